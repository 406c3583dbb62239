-- A stand-in for NodeMCU's (ESP32) Lua console on stdin/stdout, for testing the host driver
-- against a real Lua interpreter.
--
-- Console (components/lua/common/linput.c, lua.c): every byte is echoed, CR and LF (and CR LF /
-- LF CR pairs) echo as LF; a line that reaches 255 bytes is silently discarded; an empty line
-- reprints the prompt; "> " and ">> " prompts (a chunk whose error ends in "<eof>" is incomplete,
-- as lua.c decides); "=expr" means "return expr"; errors print "Lua error: <msg>"; print() lines
-- end CRLF.
--
-- Library stand-ins: otaupgrade (commence/write/complete/accept/rollback/info with ESP-IDF's slot
-- state rules), encoder.fromBase64 (pure Lua), node.restart (prints a boot log and the prompt;
-- slots keep their state).
--
-- Usage: lua5.4 nodemcu_repl.lua RUNNING_FIRMWARE RECORD_FILE
-- RUNNING_FIRMWARE is the image in ota_0 at start (accepted). Every byte otaupgrade.write takes
-- is appended to RECORD_FILE (emptied by each commence).

local firmware_path, record_path = arg[1], arg[2]
assert(firmware_path and record_path, "usage: nodemcu_repl.lua FIRMWARE RECORD")

io.stdout:setvbuf("no")
local function out(s) io.stdout:write(s) end

local function read_file(p)
  local f = assert(io.open(p, "rb"))
  local d = f:read("a")
  f:close()
  return d
end

-- Slots and the bootloader --------------------------------------------------------------------

local slots = {
  { label = "ota_0", data = read_file(firmware_path), state = "valid" },
  { label = "ota_1", data = "", state = nil },
}
local running, next_boot, updating = 1, 1, nil
local parts, record = nil, nil
local RESTART = {}

local function u32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return a + b * 256 + c * 65536 + d * 16777216
end

-- SHA-256 (FIPS 180-4) on Lua 5.4's 64-bit integers, for the hash esp_image_verify checks.
local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 0xffffffff
local function ror(x, n) return ((x >> n) | (x << (32 - n))) & M32 end

local function sha256(msg)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local len = #msg
  msg = msg .. "\x80" .. string.rep("\0", (55 - len) % 64) .. string.pack(">I8", len * 8)
  local w = {}
  for block = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, block + 4 * i) end
    for i = 16, 63 do
      local a, b = w[i - 15], w[i - 2]
      local s0 = ror(a, 7) ~ ror(a, 18) ~ (a >> 3)
      local s1 = ror(b, 17) ~ ror(b, 19) ~ (b >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
    end
    local a, b, c, d, e, f, g, hh = table.unpack(h)
    for i = 0, 63 do
      local t1 = hh + (ror(e, 6) ~ ror(e, 11) ~ ror(e, 25)) + ((e & f) ~ (~e & g)) + K[i + 1] + w[i]
      local t2 = (ror(a, 2) ~ ror(a, 13) ~ ror(a, 22)) + ((a & b) ~ (a & c) ~ (b & c))
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
    end
    for i, v in ipairs({ a, b, c, d, e, f, g, hh }) do h[i] = (h[i] + v) & M32 end
  end
  return string.pack(">I4I4I4I4I4I4I4I4", table.unpack(h))
end

-- esp_image_verify: header, segments, 0xEF xor the segment data, the checksum byte at the end of
-- the 16-byte padding, and when the header's hash_appended byte is 1, the SHA-256 of everything
-- up to that byte in the 32 bytes after it.
local function validates(img)
  if #img < 24 or img:byte(1) ~= 0xE9 then return false end
  local count = img:byte(2)
  local pos, sum = 25, 0xEF
  for _ = 1, count do
    if pos + 7 > #img then return false end
    local len = u32(img, pos + 4)
    pos = pos + 8
    if pos + len - 1 > #img then return false end
    for i = pos, pos + len - 1 do sum = sum ~ img:byte(i) end
    pos = pos + len
  end
  while (pos - 1) % 16 ~= 15 do pos = pos + 1 end
  if pos > #img or img:byte(pos) ~= sum then return false end
  if img:byte(24) ~= 1 then return true end
  return pos + 32 <= #img and img:sub(pos + 1, pos + 32) == sha256(img:sub(1, pos))
end

local function bootable(i)
  local s = slots[i]
  return s.state ~= "invalid" and s.state ~= "aborted" and validates(s.data)
end

local function reset()
  updating = nil
  local s = slots[next_boot]
  if s.state == "new" then s.state = "testing"
  elseif s.state == "testing" then s.state = "aborted" end
  if bootable(next_boot) then
    running = next_boot
  else
    local other = 3 - next_boot
    running = bootable(other) and other or next_boot
    next_boot = running
  end
end

local function restart()
  reset()
  error(RESTART, 0)
end

local function cstr(s, i, n)
  local v = s:sub(i, i + n - 1)
  return (v:gsub("%z.*$", ""))
end

local function describe(img)
  if #img < 32 + 256 or u32(img, 33) ~= 0xABCD5432 then return nil end
  return {
    secure_version = u32(img, 37),
    version = cstr(img, 49, 32),
    name = cstr(img, 81, 32),
    time = cstr(img, 113, 16),
    date = cstr(img, 129, 16),
    idf_version = cstr(img, 145, 32),
  }
end

local otaupgrade = {}

function otaupgrade.commence()
  if slots[running].state == "testing" then
    error("can't upgrade from unconfirmed firmware", 0)
  end
  updating = 3 - running
  slots[updating].data = ""
  parts = {}
  if record then record:close() end
  record = assert(io.open(record_path, "wb"))
end

function otaupgrade.write(s)
  if not updating then error("write not possible, use otaupgrade.commence() first", 0) end
  if #parts == 0 and s:byte(1) ~= 0xE9 then error("not a valid ota image", 0) end
  parts[#parts + 1] = s
  record:write(s)
  record:flush()
end

function otaupgrade.complete(reboot)
  if not updating then error("no upgrade in progress", 0) end
  local img = table.concat(parts)
  if #img == 0 then error("empty firmware image", 0) end
  slots[updating].data = img
  if not validates(img) then error("validation failed", 0) end
  slots[updating].state = "new"
  next_boot = updating
  updating = nil
  if reboot and reboot ~= 0 then restart() end
end

function otaupgrade.accept()
  slots[running].state = "valid"
end

function otaupgrade.rollback()
  local other = 3 - running
  if not bootable(other) then error("no other firmware to roll back to", 0) end
  slots[running].state = "invalid"
  next_boot = other
  restart()
end

function otaupgrade.info()
  local t = {}
  for _, s in ipairs(slots) do
    local e = describe(s.data) or {}
    e.state = s.state
    t[s.label] = e
  end
  return slots[running].label, slots[next_boot].label, t
end

-- encoder.fromBase64 ----------------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local DEC = {}
for i = 1, 64 do DEC[B64:byte(i)] = i - 1 end

local function from_base64(s)
  if #s % 4 ~= 0 then error("failed base64 decode", 0) end
  local o = {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local pad = 0
    if d == 61 then pad = 1; d = 65 end
    if c == 61 then
      if pad ~= 1 then error("failed base64 decode", 0) end
      pad = 2; c = 65
    end
    if pad > 0 and i + 4 <= #s then error("failed base64 decode", 0) end
    local va, vb = DEC[a], DEC[b]
    local vc = c == 65 and 0 or DEC[c]
    local vd = d == 65 and 0 or DEC[d]
    if not (va and vb and vc and vd) then error("failed base64 decode", 0) end
    local n = ((va * 64 + vb) * 64 + vc) * 64 + vd
    local bytes = string.char((n >> 16) & 255, (n >> 8) & 255, n & 255)
    o[#o + 1] = bytes:sub(1, 3 - pad)
  end
  return table.concat(o)
end

-- The console -----------------------------------------------------------------------------------

local BOOT = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13\r\n" ..
  "NodeMCU ESP32 (Lua stand-in) powered by " .. _VERSION .. "\r\n> "

local function new_env()
  local env = {
    pairs = pairs, ipairs = ipairs, tostring = tostring, tonumber = tonumber, type = type,
    string = string, table = table, error = error, pcall = pcall, _VERSION = _VERSION,
    otaupgrade = otaupgrade,
    encoder = { fromBase64 = from_base64 },
    node = { restart = restart },
  }
  env.print = function(...)
    local n = select("#", ...)
    local t = {}
    for i = 1, n do t[i] = tostring((select(i, ...))) end
    out(table.concat(t, "\t") .. "\r\n")
  end
  return env
end

local env = new_env()
local pending = nil

local function run_line(line)
  if not pending and line == "" then
    out("> ")
    return
  end
  local chunk = pending and (pending .. "\n" .. line) or line
  pending = nil
  local src = chunk:sub(1, 1) == "=" and ("return " .. chunk:sub(2)) or chunk
  local f, err = load(src, "=stdin", "t", env)
  if not f then
    if err:sub(-5) == "<eof>" then
      pending = chunk
      out(">> ")
    else
      out("Lua error: " .. err .. "\n> ")
    end
    return
  end
  local res = table.pack(pcall(f))
  if res[1] then
    if res.n > 1 then env.print(table.unpack(res, 2, res.n)) end
    out("> ")
  elseif res[2] == RESTART then
    env = new_env()
    out(BOOT)
  else
    out("Lua error: " .. tostring(res[2]) .. "\n> ")
  end
end

local line, last_eol = {}, nil
while true do
  local c = io.stdin:read(1)
  if not c then break end
  if c == "\r" or c == "\n" then
    if last_eol and last_eol ~= c then
      last_eol = nil
    else
      last_eol = c
      out("\n")
      local text = table.concat(line)
      line = {}
      run_line(text)
    end
  elseif c == "\b" or c == "\127" then
    last_eol = nil
    if #line > 0 then
      line[#line] = nil
      out("\b \b")
    end
  else
    last_eol = nil
    out(c)
    line[#line + 1] = c
    if #line >= 255 then line = {} end
  end
end
