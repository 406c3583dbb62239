// A module's serial port made of the real MicroPython interpreter (the npm package
// @micropython/micropython-webassembly-pyscript): bytes on stdin go to its REPL, its output goes
// to stdout. Raw-paste is answered here (the port's own hangs), soft and hard resets
// re-initialise the interpreter while the recorded flash state under /board is kept, and the
// Python stand-ins in this folder play the board's own modules (esp32, fota, pycom, machine).
//
// node harness.mjs --mp PATH/micropython.mjs --board esp32|quecpython|pycom --state DIR
//   [--firmware FILE] [--paste window|refuse|absent] [--hide deflate,binascii]
//   [--slot-size N] [--reset-delay MS] [--preload DIR]
// --preload copies the tree under DIR into the board's file system at power-on (`DIR/flash/x`
// becomes `/flash/x`).
// The state (every file under /board and /flash) is written to DIR when stdin ends and on SIGUSR1.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STAND_INS = ["_board.py", "esp32.py", "machine.py", "fota.py", "modem.py", "misc.py", "net.py", "pycom.py", "_sha1.py"];

function parseArgs(argv) {
  const o = { paste: "window", hide: [], slotSize: 1536 * 1024, resetDelay: 300 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    switch (k) {
      case "--mp": o.mp = v; break;
      case "--board": o.board = v; break;
      case "--state": o.state = v; break;
      case "--firmware": o.firmware = v; break;
      case "--paste": o.paste = v; break;
      case "--hide": o.hide = v.split(",").filter(Boolean); break;
      case "--slot-size": o.slotSize = Number(v); break;
      case "--reset-delay": o.resetDelay = Number(v); break;
      case "--preload": o.preload = v; break;
      default: throw new Error(`unknown option ${k}`);
    }
  }
  if (!o.mp || !o.board || !o.state) throw new Error("--mp, --board and --state are required");
  if (!["window", "refuse", "absent"].includes(o.paste)) throw new Error(`bad --paste ${o.paste}`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const { loadMicroPython } = await import(opts.mp);

const CTRL_A = 0x01, CTRL_B = 0x02, CTRL_C = 0x03, CTRL_D = 0x04, CTRL_E = 0x05;
const WINDOW = 128;
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n>";

let mp = null;
let out = [];          // bytes waiting for stdout
let muted = false;     // the board is resetting: nothing it prints reaches the host
let dropOk = 0;        // bytes of the "OK" a raw-paste exec must not show
let resetPending = false;
let booting = false;   // between a hard reset and the boot banner: input is lost
let raw = false;       // the REPL is in raw mode (for what a soft reset returns to)
let held = [];         // a possible raw-paste request being recognised
let paste = null;      // { code: [], count } while a raw-paste upload runs

function emit(bytes) {
  for (const b of bytes) {
    if (muted) continue;
    if (dropOk > 0) { dropOk--; continue; }
    out.push(b);
  }
}
function emitText(s) { emit(Buffer.from(s, "latin1")); }
function flush() {
  if (out.length) {
    process.stdout.write(Buffer.from(out));
    out = [];
  }
}

/// Files of the board's recorded state, kept across interpreter restarts; a directory maps to
/// null.
function readTree(FS, dir) {
  const files = {};
  const walk = (d) => {
    let names;
    try { names = FS.readdir(d); } catch { return; }
    for (const n of names) {
      if (n === "." || n === "..") continue;
      const p = `${d}/${n}`;
      if (FS.isDir(FS.stat(p).mode)) {
        files[p] = null;
        walk(p);
      } else files[p] = FS.readFile(p);
    }
  };
  walk(dir);
  return files;
}
function writeTree(FS, files) {
  for (const [p, data] of Object.entries(files)) {
    const parts = p.split("/").filter(Boolean);
    let d = "";
    for (const part of data === null ? parts : parts.slice(0, -1)) {
      d += `/${part}`;
      try { FS.mkdir(d); } catch { /* exists */ }
    }
    if (data !== null) FS.writeFile(p, data);
  }
}
/// The files under a host directory, keyed by their path below it.
function hostTree(dir) {
  const files = {};
  const walk = (d, prefix) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, `${prefix}/${e.name}`);
      else files[`${prefix}/${e.name}`] = fs.readFileSync(p);
    }
  };
  walk(dir, "");
  return files;
}

function savedState() {
  return mp
    ? { ...readTree(mp.FS, "/board"), ...readTree(mp.FS, "/flash"), ...readTree(mp.FS, "/sd") }
    : {};
}

function dump() {
  const files = savedState();
  fs.rmSync(opts.state, { recursive: true, force: true });
  for (const [p, data] of Object.entries(files)) {
    const dest = path.join(opts.state, p);
    if (data === null) {
      fs.mkdirSync(dest, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, data);
  }
}

/// A fresh interpreter with the state `files`, after `how`: "power" (first start), "reset"
/// (the bootloader runs) or "soft" (only the interpreter restarts).
async function start(files, how) {
  const first = how === "power";
  const fresh = await loadMicroPython({ stdout: emit, stderr: emit, linebuffer: false });
  try { fresh.FS.mkdir("/lib"); } catch { /* exists */ }
  for (const f of STAND_INS) fresh.FS.writeFile(`/lib/${f}`, fs.readFileSync(path.join(HERE, f)));
  writeTree(fresh.FS, files);
  if (first) {
    const cfg = { board: opts.board, hide: opts.hide, slot_size: opts.slotSize };
    writeTree(fresh.FS, { "/board/config.json": JSON.stringify(cfg) });
    if (opts.firmware) writeTree(fresh.FS, { "/board/firmware.bin": fs.readFileSync(opts.firmware) });
    if (opts.preload) writeTree(fresh.FS, hostTree(opts.preload));
  }
  try { fresh.FS.mkdir("/flash"); } catch { /* exists */ }
  fresh.registerJsModule("_harness", { reset: () => { resetPending = true; muted = true; } });
  mp = fresh;
  // The board's boot: bootloader rules on the recorded state, then the stand-ins are installed.
  mp.runPython(`import _board\n_board.boot("${how}")`);
}

async function hardReset() {
  resetPending = false;
  booting = true;
  held = [];
  paste = null;
  dropOk = 0;
  const files = savedState();
  await new Promise((r) => setTimeout(r, opts.resetDelay));
  muted = true;
  await start(files, "reset");
  muted = false;
  raw = false;
  emitText("ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n");
  mp.replInit();
  booting = false;
  flush();
}

async function softReset() {
  const files = savedState();
  muted = true;
  await start(files, "soft");
  mp.replInit();
  if (raw) mp.replProcessChar(CTRL_A);
  muted = false;
  emitText("MPY: soft reboot\r\n");
  if (raw) emitText(RAW_BANNER);
  else mp.replInit();
}

/// Feed one byte to the interpreter's REPL; true when the board must restart.
async function feed(c) {
  if (c === CTRL_B) raw = false;
  if (c === CTRL_A) raw = true;
  const ret = mp.replProcessChar(c);
  if (resetPending) return true;
  if (ret === 256) await softReset();
  return false;
}

async function feedAll(bytes) {
  for (const b of bytes) if (await feed(b)) return true;
  return false;
}

/// One byte from the host.
async function onByte(c) {
  if (paste) {
    if (c === CTRL_D) {
      const code = paste.code;
      paste = null;
      emit([CTRL_D]);
      // The buffered code runs as a plain raw exec, whose leading OK raw-paste does not print.
      dropOk = 2;
      return feedAll([...code, CTRL_D]);
    }
    if (c === CTRL_C) {
      paste = null;
      emit([CTRL_D]);
      return feed(CTRL_C);
    }
    paste.code.push(c);
    if (++paste.count === WINDOW) {
      paste.count = 0;
      emit([CTRL_A]);
    }
    return false;
  }
  if (held.length === 0 && c === CTRL_E && raw) { held.push(c); return false; }
  if (held.length === 1) {
    if (c === 0x41) { held.push(c); return false; }
    const h = held; held = [];
    return feedAll([...h, c]);
  }
  if (held.length === 2) {
    held = [];
    if (c !== CTRL_A) return feedAll([CTRL_E, 0x41, c]);
    switch (opts.paste) {
      case "window":
        emit([0x52, 0x01, WINDOW & 0xff, WINDOW >> 8, CTRL_A]);
        paste = { code: [], count: 0 };
        return false;
      case "refuse":
        // A sub-command the firmware does not know: its own answer.
        return feedAll([CTRL_E, 0x42, CTRL_A]);
      default:
        // Firmware before raw-paste: Ctrl-E and 'A' are data, Ctrl-A resets the raw REPL.
        return feedAll([CTRL_C, CTRL_A]);
    }
  }
  return feed(c);
}

let queue = Promise.resolve();
function onData(chunk) {
  queue = queue.then(async () => {
    if (booting) return;
    for (const c of chunk) {
      if (await onByte(c)) {
        flush();
        await hardReset();
        return;
      }
    }
    flush();
  }).catch((e) => {
    process.stderr.write(`harness: ${e && e.stack ? e.stack : e}\n`);
    process.exit(2);
  });
}

muted = true;
await start({}, "power");
muted = false;
mp.replInit();
flush();
process.on("SIGUSR1", () => { queue = queue.then(dump); });
process.stdin.on("data", onData);
process.stdin.on("end", () => {
  queue = queue.then(() => {
    flush();
    dump();
    process.exit(0);
  });
});
