// Child-process side of an agent: receives {id, cmd, args} over IPC, runs impl[cmd](args),
// replies {type:'reply', id, ok, result|error}; impl.emit(event, data) forwards SDK events.
import { errInfo } from './common.mjs';

export function runWorker(impl) {
  impl.emit = (event, data) => {
    try {
      process.send({ type: 'event', event, data, t: Date.now() });
    } catch {
      /* parent gone */
    }
  };
  process.on('message', async (msg) => {
    const { id, cmd, args } = msg;
    if (cmd === 'exit') {
      try {
        if (impl.shutdown) await Promise.race([impl.shutdown(), new Promise((r) => setTimeout(r, 1500))]);
      } catch {
        /* ignore */
      }
      process.send({ type: 'reply', id, ok: true, result: null }, () => process.exit(0));
      return;
    }
    try {
      if (typeof impl[cmd] !== 'function') throw new Error(`unknown command ${cmd}`);
      const result = await impl[cmd](args || {});
      process.send({ type: 'reply', id, ok: true, result });
    } catch (e) {
      process.send({ type: 'reply', id, ok: false, error: errInfo(e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (e) => {
    console.error('uncaughtException', e);
    impl.emit('worker-error', errInfo(e));
  });
  process.on('unhandledRejection', (e) => {
    console.error('unhandledRejection', e);
    impl.emit('worker-error', errInfo(e));
  });
  process.send({ type: 'ready' });
}
