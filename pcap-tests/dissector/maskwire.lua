-- SPDX-License-Identifier: BSD-3-Clause
-- Wireshark dissector for the maskwire tensor transport (UDP, port 47000
-- by default, and any UDP port by heuristic: magic "MW", version 1 or 2,
-- a known type and a length field equal to the datagram).
--
-- Version 2 (secure, docs/PROTOCOL.md 12): the header is shown, with the
-- trailer (sequence number, AEAD tag) and a HELLO's nonce; a body sent
-- encrypted is marked maskwire.encrypted = 1 and shown as ciphertext
-- bytes (no key is read); an integrity-mode body (flag CLEAR) is
-- dissected as in version 1. The tag is not verified here.
--
--   tshark -X lua_script:maskwire.lua -r capture.pcap -O maskwire
--   wireshark -X lua_script:maskwire.lua capture.pcap
--
-- Every header field of every packet type is shown by name. Multi-byte
-- header fields are big-endian; the codec payload after a DATA header is
-- little-endian and is shown as bytes. The CRC32C (Castagnoli) over the
-- datagram, its own field read as zero, is recomputed and reported in
-- maskwire.crc.status. Compact DATA (type 6, PROTOCOL.md 5.6) has its own
-- 24-byte header (maskwire.cdata.*); its CRC also covers the session's
-- identities, taken from the packets before it in the same direction. Follows docs/PROTOCOL.md (sections 4 and 5); where
-- a layout detail matters, dataplane/core/src/wire.c is what the code does.

local mw = Proto("maskwire", "maskwire tensor transport")

local bit = bit32 or bit

local ptypes = {[1] = "HELLO", [2] = "HELLO_ACK", [3] = "DATA", [4] = "ACK",
                [5] = "CLOSE", [6] = "CDATA"}
local codecs = {[0] = "dense", [1] = "ms", [2] = "ms-signed", [3] = "topk",
                [4] = "quant", [5] = "raw"}
local dtypes = {[0] = "f32", [1] = "f16", [2] = "bf16", [3] = "f64",
                [4] = "u8", [5] = "i8", [6] = "i16", [7] = "i32",
                [8] = "i64", [9] = "bool"}
local kinds = {[0] = "activation", [1] = "gradient", [2] = "logits",
               [3] = "labels", [4] = "other"}
local roundings = {[0] = "nearest", [1] = "floor", [2] = "stochastic"}
local crc_states = {[0] = "bad", [1] = "good"}
-- mw_err.h: CLOSE reasons are 0 (application close) or a negative code.
local errors = {[0] = "application close", [-1] = "invalid argument",
  [-2] = "output buffer too small", [-3] = "out of memory",
  [-4] = "value out of range", [-5] = "input holds NaN or Inf",
  [-6] = "input truncated", [-7] = "bad magic number",
  [-8] = "unsupported version", [-9] = "malformed input",
  [-10] = "sentinel count does not match values carried",
  [-11] = "unsupported codec or parameter",
  [-12] = "resource busy, try again", [-13] = "configured limit exceeded",
  [-14] = "no such object", [-15] = "timed out", [-16] = "peer restarted",
  [-17] = "operation not valid in this state", [-18] = "I/O error",
  [-19] = "checksum mismatch", [-20] = "duplicate", [-21] = "canceled",
  [-22] = "shut down", [-23] = "in use by another process",
  [-24] = "input changed while it was being read",
  [-25] = "authentication failed"}

local HDR_LEN, HELLO_LEN, DATA_HDR_LEN, CDATA_HDR_LEN = 28, 52, 140, 24
local SEC_TRAILER, SEC_NONCE = 24, 32
local ACK_FIXED_LEN, ACK_BLOCK_LEN, CLOSE_LEN = 48, 12, 32

local F = ProtoField
local f = {
  magic = F.uint16("maskwire.magic", "Magic", base.HEX),
  version = F.uint8("maskwire.version", "Version"),
  type = F.uint8("maskwire.type", "Type", base.DEC, ptypes),
  len = F.uint16("maskwire.len", "Length"),
  flags = F.uint16("maskwire.flags", "Flags", base.HEX),
  flag_ack_req = F.bool("maskwire.flags.ack_req", "ACK requested", 16,
                        nil, 0x0001),
  src_inc = F.uint32("maskwire.src.inc", "Source incarnation"),
  src_gen = F.uint32("maskwire.src.gen", "Source generation"),
  dst_inc = F.uint32("maskwire.dst.inc", "Destination incarnation"),
  dst_gen = F.uint32("maskwire.dst.gen", "Destination generation"),
  crc = F.uint32("maskwire.crc", "CRC32C", base.HEX),
  crc_status = F.uint8("maskwire.crc.status", "CRC32C status", base.DEC,
                       crc_states),
  flag_clear = F.bool("maskwire.flags.clear",
                      "Body in the clear (integrity mode)", 16, nil, 0x0002),
  encrypted = F.uint8("maskwire.encrypted", "Body encrypted"),
  ciphertext = F.bytes("maskwire.ciphertext", "Encrypted body"),
  nonce = F.bytes("maskwire.sec.nonce", "Handshake nonce"),
  sn = F.uint64("maskwire.sec.sn", "Sequence number"),
  tag = F.bytes("maskwire.sec.tag", "AEAD tag"),

  h_max_datagram = F.uint16("maskwire.hello.max_datagram", "Max datagram"),
  h_caps = F.uint16("maskwire.hello.caps", "Capabilities", base.HEX),
  h_rx_window = F.uint32("maskwire.hello.rx_window", "Receive window"),
  h_max_segs = F.uint32("maskwire.hello.max_segs", "Max segments"),
  h_reserved2 = F.uint32("maskwire.hello.reserved2", "Reserved"),
  h_max_tensor = F.uint64("maskwire.hello.max_tensor_bytes",
                          "Max tensor bytes"),

  d_pn = F.uint32("maskwire.data.pn", "Packet number"),
  d_tid = F.uint32("maskwire.data.tid", "Tensor id"),
  d_seg_idx = F.uint32("maskwire.data.seg_idx", "Segment index"),
  d_elem_cnt = F.uint32("maskwire.data.elem_cnt", "Elements"),
  d_val_cnt = F.uint32("maskwire.data.val_cnt", "Values"),
  d_elem_off = F.uint64("maskwire.data.elem_off", "Element offset"),
  d_val_off = F.uint64("maskwire.data.val_off", "Value offset"),
  d_n = F.uint64("maskwire.data.n", "Tensor elements (n)"),
  d_k = F.uint64("maskwire.data.k", "Values kept (k)"),
  d_tag = F.uint64("maskwire.data.tag", "Tag"),
  d_seg_cnt = F.uint32("maskwire.data.seg_cnt", "Segment count"),
  d_codec = F.uint8("maskwire.data.codec", "Codec", base.DEC, codecs),
  d_bits = F.uint8("maskwire.data.bits", "Mask bits"),
  d_rounding = F.uint8("maskwire.data.rounding", "Rounding", base.DEC,
                       roundings),
  d_dtype = F.uint8("maskwire.data.dtype", "Element type", base.DEC, dtypes),
  d_kind = F.uint8("maskwire.data.kind", "Kind", base.DEC, kinds),
  d_ndim = F.uint8("maskwire.data.ndim", "Dimensions"),
  d_deadline = F.uint16("maskwire.data.deadline_ms", "Deadline (ms, 0: none)"),
  d_p0 = F.float("maskwire.data.p0", "p0 (MS threshold / quant min)"),
  d_p1 = F.float("maskwire.data.p1", "p1 (quant step)"),
  d_dim = F.uint32("maskwire.data.dim", "Dimension"),
  d_payload_len = F.uint32("maskwire.data.payload_len", "Payload length"),
  d_payload = F.bytes("maskwire.data.payload", "Codec payload"),

  a_largest_pn = F.uint32("maskwire.ack.largest_pn", "Largest packet number"),
  a_ack_delay = F.uint32("maskwire.ack.ack_delay_us", "ACK delay (us)"),
  a_cum_tid = F.uint32("maskwire.ack.cum_tid", "Tensors complete below"),
  a_rx_limit = F.uint32("maskwire.ack.rx_limit", "Receive limit"),
  a_nblocks = F.uint16("maskwire.ack.nblocks", "Blocks"),
  a_has_largest = F.uint8("maskwire.ack.has_largest", "Has largest"),
  a_reserved = F.uint8("maskwire.ack.reserved", "Reserved"),
  b_tid = F.uint32("maskwire.ack.block.tid", "Tensor id"),
  b_seg_cum = F.uint32("maskwire.ack.block.seg_cum", "Segments complete below"),
  b_flags = F.uint8("maskwire.ack.block.flags", "Block flags", base.HEX),
  b_complete = F.bool("maskwire.ack.block.flags.complete", "Tensor complete",
                      8, nil, 0x01),
  b_reserved = F.uint8("maskwire.ack.block.reserved", "Reserved"),
  b_bitmap_len = F.uint16("maskwire.ack.block.bitmap_len", "Bitmap length"),
  b_bitmap = F.bytes("maskwire.ack.block.bitmap", "Bitmap"),

  c_reason = F.int32("maskwire.close.reason", "Reason", base.DEC, errors),

  cd_pn = F.uint32("maskwire.cdata.pn", "Packet number"),
  cd_tid16 = F.uint16("maskwire.cdata.tid16", "Tensor id (low 16 bits)"),
  cd_val_cnt = F.uint16("maskwire.cdata.val_cnt", "Values"),
  cd_seg_idx = F.uint32("maskwire.cdata.seg_idx", "Segment index"),
  cd_elem_off = F.uint32("maskwire.cdata.elem_off", "Element offset"),
  cd_crc = F.uint32("maskwire.cdata.crc", "CRC32C (with the identities)",
                    base.HEX),
  cd_crc_status = F.uint8("maskwire.cdata.crc.status", "CRC32C status",
                          base.DEC, crc_states),
  cd_payload_len = F.uint32("maskwire.cdata.payload_len", "Payload length"),
  cd_payload = F.bytes("maskwire.cdata.payload", "Codec payload"),
}
local fl = {}
for _, v in pairs(f) do fl[#fl + 1] = v end
mw.fields = fl

local e_short = ProtoExpert.new("maskwire.short", "Datagram too short",
                                expert.group.MALFORMED, expert.severity.ERROR)
local e_crc = ProtoExpert.new("maskwire.bad_crc", "CRC32C mismatch",
                              expert.group.CHECKSUM, expert.severity.ERROR)
local e_len = ProtoExpert.new("maskwire.bad_len",
                              "Length field differs from the datagram",
                              expert.group.MALFORMED, expert.severity.ERROR)
mw.experts = {e_short, e_crc, e_len}

local port_pref = 47000
mw.prefs.port = Pref.uint("UDP port", port_pref, "maskwire's UDP port")

-- CRC32C, reflected polynomial 0x82F63B78.
local crc_tab = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if bit.band(c, 1) ~= 0 then
      c = bit.bxor(bit.rshift(c, 1), 0x82F63B78)
    else
      c = bit.rshift(c, 1)
    end
  end
  crc_tab[i] = c
end

local function crc_byte(c, b)
  return bit.bxor(crc_tab[bit.band(bit.bxor(c, b), 0xFF)], bit.rshift(c, 8))
end

-- CRC32C of the datagram with its crc field (4 bytes at crc_off) read as
-- zero, after the bytes of pre (a list of 32-bit big-endian words).
local function crc32c(tvb, len, crc_off, pre)
  local c = 0xFFFFFFFF
  for _, w in ipairs(pre or {}) do
    for sh = 24, 0, -8 do
      c = crc_byte(c, bit.band(bit.rshift(w, sh), 0xFF))
    end
  end
  local ba = tvb:bytes(0, len)
  for i = 0, len - 1 do
    local b = ba:get_index(i)
    if i >= crc_off and i < crc_off + 4 then b = 0 end
    c = crc_byte(c, b)
  end
  return bit.band(bit.bnot(c), 0xFFFFFFFF)
end

-- Compact DATA (PROTOCOL.md 5.6) carries no identities; its CRC covers
-- those of its session: the last version-1 packet (type 1-5, length
-- field right, CRC good, destination known) in the same direction
-- (source address to destination address) names them. Kept per frame,
-- so that a second pass shows what the first one saw.
local dir_ident, frame_ident = {}, {}

local function dir_key(pinfo)
  return tostring(pinfo.src) .. ">" .. tostring(pinfo.dst)
end

local function dissect_cdata(tvb, pinfo, t, len)
  t:add(f.magic, tvb(0, 2))
  t:add(f.version, tvb(2, 1))
  t:add(f.type, tvb(3, 1))
  pinfo.cols.info = "CDATA"
  t:append_text(", CDATA")
  if len < CDATA_HDR_LEN then
    t:add_proto_expert_info(e_short)
    return len
  end
  -- version 2 (PROTOCOL.md 12.5): crc 0, the trailer after the payload
  -- (ciphertext in encrypt mode); the tag is not checked here
  local v2 = tvb(2, 1):uint() == 2
  local tail = v2 and SEC_TRAILER or 0
  if len < CDATA_HDR_LEN + tail then
    t:add_proto_expert_info(e_short)
    return len
  end
  t:add(f.cd_pn, tvb(4, 4))
  t:add(f.cd_tid16, tvb(8, 2))
  t:add(f.cd_val_cnt, tvb(10, 2))
  t:add(f.cd_seg_idx, tvb(12, 4))
  t:add(f.cd_elem_off, tvb(16, 4))
  local ct = t:add(f.cd_crc, tvb(20, 4))
  if not pinfo.visited then
    frame_ident[pinfo.number] = dir_ident[dir_key(pinfo)]
  end
  local id = frame_ident[pinfo.number]
  if id and not v2 then
    local good = crc32c(tvb, len, 20, id) == tvb(20, 4):uint()
    t:add(f.cd_crc_status, good and 1 or 0):set_generated()
    if not good then ct:add_proto_expert_info(e_crc) end
  end
  local plen = len - CDATA_HDR_LEN - tail
  t:add(f.cd_payload_len, plen):set_generated()
  if plen > 0 then
    t:add(f.cd_payload, tvb(CDATA_HDR_LEN, plen))
  end
  if v2 then
    t:add(f.sn, tvb(len - SEC_TRAILER, 8))
    t:add(f.tag, tvb(len - 16, 16))
  end
  pinfo.cols.info:append(string.format(" tid16=%u seg=%u pn=%u",
    tvb(8, 2):uint(), tvb(12, 4):uint(), tvb(4, 4):uint()))
  return len
end

local function dissect_hello(tvb, t, len)
  if len < HELLO_LEN then return end
  t:add(f.h_max_datagram, tvb(28, 2))
  t:add(f.h_caps, tvb(30, 2))
  t:add(f.h_rx_window, tvb(32, 4))
  t:add(f.h_max_segs, tvb(36, 4))
  t:add(f.h_reserved2, tvb(40, 4))
  t:add(f.h_max_tensor, tvb(44, 8))
end

local function dissect_data(tvb, t, len, pinfo)
  if len < DATA_HDR_LEN then return end
  t:add(f.d_pn, tvb(28, 4))
  t:add(f.d_tid, tvb(32, 4))
  t:add(f.d_seg_idx, tvb(36, 4))
  t:add(f.d_elem_cnt, tvb(40, 4))
  t:add(f.d_val_cnt, tvb(44, 4))
  t:add(f.d_elem_off, tvb(48, 8))
  t:add(f.d_val_off, tvb(56, 8))
  local tb = t:add(tvb(64, 76), "Tensor block")
  tb:add(f.d_n, tvb(64, 8))
  tb:add(f.d_k, tvb(72, 8))
  tb:add(f.d_tag, tvb(80, 8))
  tb:add(f.d_seg_cnt, tvb(88, 4))
  tb:add(f.d_codec, tvb(92, 1))
  tb:add(f.d_bits, tvb(93, 1))
  tb:add(f.d_rounding, tvb(94, 1))
  tb:add(f.d_dtype, tvb(95, 1))
  tb:add(f.d_kind, tvb(96, 1))
  tb:add(f.d_ndim, tvb(97, 1))
  tb:add(f.d_deadline, tvb(98, 2))
  tb:add(f.d_p0, tvb(100, 4))
  tb:add(f.d_p1, tvb(104, 4))
  local ndim = tvb(97, 1):uint()
  local shape = {}
  for i = 0, 7 do
    tb:add(f.d_dim, tvb(108 + 4 * i, 4))
    if i < ndim then shape[#shape + 1] = tostring(tvb(108 + 4 * i, 4):uint()) end
  end
  tb:append_text(string.format(": %s %s [%s] %s",
    kinds[tvb(96, 1):uint()] or "?", dtypes[tvb(95, 1):uint()] or "?",
    table.concat(shape, ","), codecs[tvb(92, 1):uint()] or "?"))
  t:add(f.d_payload_len, len - DATA_HDR_LEN):set_generated()
  if len > DATA_HDR_LEN then
    t:add(f.d_payload, tvb(DATA_HDR_LEN, len - DATA_HDR_LEN))
  end
  pinfo.cols.info:append(string.format(" tid=%u seg=%u/%u pn=%u tag=%s",
    tvb(32, 4):uint(), tvb(36, 4):uint(), tvb(88, 4):uint(),
    tvb(28, 4):uint(), tostring(tvb(80, 8):uint64())))
end

local function dissect_ack(tvb, t, len, pinfo)
  if len < ACK_FIXED_LEN then return end
  t:add(f.a_largest_pn, tvb(28, 4))
  t:add(f.a_ack_delay, tvb(32, 4))
  t:add(f.a_cum_tid, tvb(36, 4))
  t:add(f.a_rx_limit, tvb(40, 4))
  t:add(f.a_nblocks, tvb(44, 2))
  t:add(f.a_has_largest, tvb(46, 1))
  t:add(f.a_reserved, tvb(47, 1))
  local nblocks = tvb(44, 2):uint()
  local off = ACK_FIXED_LEN
  for i = 1, nblocks do
    if off + ACK_BLOCK_LEN > len then break end
    local blen = tvb(off + 10, 2):uint()
    local total = ACK_BLOCK_LEN + blen
    if off + total > len then break end
    local bt = t:add(tvb(off, total), string.format("Block %d: tensor %u",
                     i, tvb(off, 4):uint()))
    bt:add(f.b_tid, tvb(off, 4))
    bt:add(f.b_seg_cum, tvb(off + 4, 4))
    local ft = bt:add(f.b_flags, tvb(off + 8, 1))
    ft:add(f.b_complete, tvb(off + 8, 1))
    bt:add(f.b_reserved, tvb(off + 9, 1))
    bt:add(f.b_bitmap_len, tvb(off + 10, 2))
    if blen > 0 then bt:add(f.b_bitmap, tvb(off + 12, blen)) end
    off = off + total
  end
  pinfo.cols.info:append(string.format(" cum_tid=%u rx_limit=%u largest_pn=%u blocks=%u",
    tvb(36, 4):uint(), tvb(40, 4):uint(), tvb(28, 4):uint(), nblocks))
end

local function dissect_close(tvb, t, len, pinfo)
  if len < CLOSE_LEN then return end
  t:add(f.c_reason, tvb(28, 4))
  local r = tvb(28, 4):int()
  pinfo.cols.info:append(" reason=" .. (errors[r] or tostring(r)))
end

function mw.dissector(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "MASKWIRE"
  local t = tree:add(mw, tvb())
  if len >= 4 and tvb(0, 2):uint() == 0x4D57 and tvb(3, 1):uint() == 6 then
    return dissect_cdata(tvb, pinfo, t, len)
  end
  if len < HDR_LEN then
    t:add_proto_expert_info(e_short)
    return len
  end
  t:add(f.magic, tvb(0, 2))
  t:add(f.version, tvb(2, 1))
  t:add(f.type, tvb(3, 1))
  local lt = t:add(f.len, tvb(4, 2))
  if tvb(4, 2):uint() ~= len then lt:add_proto_expert_info(e_len) end
  local ft = t:add(f.flags, tvb(6, 2))
  ft:add(f.flag_ack_req, tvb(6, 2))
  local ver = tvb(2, 1):uint()
  if ver == 2 then ft:add(f.flag_clear, tvb(6, 2)) end
  t:add(f.src_inc, tvb(8, 4))
  t:add(f.src_gen, tvb(12, 4))
  t:add(f.dst_inc, tvb(16, 4))
  t:add(f.dst_gen, tvb(20, 4))
  local ty = tvb(3, 1):uint()
  pinfo.cols.info = string.format("%s %u.%u -> %u.%u", ptypes[ty] or
    ("type " .. ty), tvb(8, 4):uint(), tvb(12, 4):uint(), tvb(16, 4):uint(),
    tvb(20, 4):uint())
  if ver == 2 then
    -- secure: no CRC32C (the field is 0), a trailer instead
    t:add(f.crc, tvb(24, 4))
    if len < HDR_LEN + SEC_TRAILER then
      t:add_proto_expert_info(e_short)
      return len
    end
    local blen = len - SEC_TRAILER
    local hello = ty == 1 or ty == 2
    local clear = hello or bit.band(tvb(6, 2):uint(), 0x0002) ~= 0
    if hello and blen >= HELLO_LEN + SEC_NONCE then
      t:add(f.nonce, tvb(HELLO_LEN, SEC_NONCE))
    end
    t:add(f.sn, tvb(blen, 8))
    t:add(f.tag, tvb(blen + 8, 16))
    t:add(f.encrypted, clear and 0 or 1):set_generated()
    if not clear then
      if blen > HDR_LEN then
        t:add(f.ciphertext, tvb(HDR_LEN, blen - HDR_LEN))
      end
      pinfo.cols.info:append(" [encrypted]")
      t:append_text(", " .. (ptypes[ty] or "unknown type") .. ", encrypted")
      return len
    end
    len = hello and HELLO_LEN or blen
  else
    local ct = t:add(f.crc, tvb(24, 4))
    local good = crc32c(tvb, len, 24) == tvb(24, 4):uint()
    t:add(f.crc_status, good and 1 or 0):set_generated()
    if not good then ct:add_proto_expert_info(e_crc) end
    if good and not pinfo.visited and ver == 1 and ty >= 1 and ty <= 5 and
       tvb(4, 2):uint() == len and
       (tvb(16, 4):uint() ~= 0 or tvb(20, 4):uint() ~= 0) then
      dir_ident[dir_key(pinfo)] = {tvb(8, 4):uint(), tvb(12, 4):uint(),
                                   tvb(16, 4):uint(), tvb(20, 4):uint()}
    end
  end

  if ty == 1 or ty == 2 then
    dissect_hello(tvb, t, len)
  elseif ty == 3 then
    dissect_data(tvb, t, len, pinfo)
  elseif ty == 4 then
    dissect_ack(tvb, t, len, pinfo)
  elseif ty == 5 then
    dissect_close(tvb, t, len, pinfo)
  end
  t:append_text(", " .. (ptypes[ty] or "unknown type"))
  return len
end

local function heuristic(tvb, pinfo, tree)
  local len = tvb:len()
  if len >= CDATA_HDR_LEN and tvb(0, 2):uint() == 0x4D57 and
     (tvb(2, 1):uint() == 1 or tvb(2, 1):uint() == 2) and
     tvb(3, 1):uint() == 6 then
    mw.dissector(tvb, pinfo, tree)
    return true
  end
  local ver = len >= HDR_LEN and tvb(2, 1):uint() or 0
  if len < HDR_LEN or tvb(0, 2):uint() ~= 0x4D57 or (ver ~= 1 and ver ~= 2)
     or not ptypes[tvb(3, 1):uint()] or tvb(4, 2):uint() ~= len then
    return false
  end
  mw.dissector(tvb, pinfo, tree)
  return true
end

local udp_port = DissectorTable.get("udp.port")
udp_port:add(port_pref, mw)
mw:register_heuristic("udp", heuristic)

function mw.prefs_changed()
  if mw.prefs.port ~= port_pref then
    udp_port:remove(port_pref, mw)
    port_pref = mw.prefs.port
    udp_port:add(port_pref, mw)
  end
end
