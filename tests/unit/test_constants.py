import pytest

from openim_sdk.protocol import constants as c
from openim_sdk.protocol import conversation_id as cid


def test_single_ids_sorted_bytewise():
    assert cid.single_conversation_id("b", "a") == "si_a_b"
    assert cid.single_conversation_id("a", "b") == "si_a_b"
    # Go compares bytes: "Z" (0x5a) < "a" (0x61); and UTF-8 ordering for non-ASCII
    assert cid.single_conversation_id("a", "Z") == "si_Z_a"
    assert cid.single_conversation_id("\uff5e", "\U0001f600") == "si_\uff5e_\U0001f600"


def test_other_ids():
    assert cid.group_conversation_id("g1") == "sg_g1"
    assert cid.notification_chat_conversation_id("u2", "u1") == "sn_u1_u2"
    assert cid.user_notification_conversation_id("u1") == "n_u1_u1"
    assert cid.notification_conversation_id("si_a_b") == "n_a_b"
    assert cid.notification_conversation_id("sg_g_1") == "n_g_1"
    assert cid.conversation_id_for(1, "b", "a") == "si_a_b"
    assert cid.conversation_id_for(3, "x", group_id="g") == "sg_g"
    assert cid.conversation_id_for(1, "b", "a", notification=True) == "n_a_b"
    assert cid.session_type_of("sg_x") == c.SessionType.READ_GROUP_CHAT
    assert cid.session_type_of("n_x") is None
    with pytest.raises(ValueError):
        cid.conversation_id_for(9, "a", "b")


def test_options_absent_means_true():
    assert c.option_is_set({}, c.MsgOption.HISTORY)
    assert not c.option_is_set({"history": False}, c.MsgOption.HISTORY)
    assert not c.is_notification_message({})
    assert c.is_notification_message({"isNotNotification": False})


def test_platforms():
    assert c.platform_class(7) == c.PlatformClass.PC
    assert c.platform_class(1) == c.platform_class(2) == c.PlatformClass.MOBILE
    assert c.platform_class(8) == c.PlatformClass.PAD
    assert c.platform_name(10) == "Admin"
    assert not c.is_valid_platform(12)
    assert c.ReqIdentifier.PULL_MSG_BY_RANGE == 1002
    assert 3001 not in c.GO_SDK_KNOWN_IDENTIFIERS and 2005 in c.GO_SDK_KNOWN_IDENTIFIERS


def test_error_tree():
    from openim_sdk.protocol import errors as e

    err = e.error_for_code(1506, "TokenKickedError", "", "op1")
    assert isinstance(err, e.TokenKickedError) and isinstance(err, e.TokenError)
    assert err.operation_id == "op1" and "1506" in str(err)
    assert isinstance(e.error_for_code(1302), e.RelationError)
    assert isinstance(e.error_for_code(1201), e.NotFoundError)
    assert isinstance(e.CodecError(message="x"), e.ArgsError)
    assert e.CodecError(message="x").code == 1001
    assert e.error_for_code(1403).name == "MutedGroup"
