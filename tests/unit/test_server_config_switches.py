"""enable_history_for_new_members (upstream openim-rpc-group.yml enableHistoryForNewMembers):
default true; false from the TOML file or OPENIM_ENABLE_HISTORY_FOR_NEW_MEMBERS."""

from __future__ import annotations

from pathlib import Path

from server_stub.config import load_config


def test_history_for_new_members_switch(tmp_path: Path) -> None:
    assert load_config([], env={}).enable_history_for_new_members is True
    cfg = tmp_path / "server.toml"
    cfg.write_text("[server]\nenable_history_for_new_members = false\n")
    assert load_config(["--config", str(cfg)], env={}).enable_history_for_new_members is False
    env = {"OPENIM_ENABLE_HISTORY_FOR_NEW_MEMBERS": "false"}
    assert load_config([], env=env).enable_history_for_new_members is False
    env = {"OPENIM_ENABLE_HISTORY_FOR_NEW_MEMBERS": "true"}
    assert load_config(["--config", str(cfg)], env=env).enable_history_for_new_members is True
