/**
 * End-to-end encryption of streams and datagrams after the Noise handshake ("encrypted
 * mode", for relayed connections and unpinned direct ones), with AES-256-GCM from `#aead`
 * (node:crypto under Node, WebCrypto elsewhere; see `aead.ts`).
 *
 * Wire format
 * ===========
 *
 * Keys. Noise `split()` gives two 32-byte secrets, one per direction: the dialer (the Noise
 * initiator) sends under `initiatorToResponder` and receives under `responderToInitiator`,
 * the acceptor the other way round. Each is imported once (a non-extractable WebCrypto key,
 * or a node:crypto KeyObject) and its bytes wiped; it only ever derives record keys. Every
 * stream direction (and each side's datagrams) has keys of its own, one per run of 2^20
 * records (an "epoch"), all derived with HKDF-SHA256 (RFC 5869, empty salt) as
 *
 *     key(class, index, epoch) = HKDF(secret, info = "ferry/record/2" | class u8 | index u24 |
 *                                     epoch u64), 32 bytes, AES-256-GCM
 *
 *   where record n of a stream direction (n counted as in the nonce below), or datagram
 *   sequence n, is sealed under epoch floor(n / 2^20). Both ends know every record's counter,
 *   so keys change with no message, and no key is ever shared between streams.
 *
 *   Usage limit. RFC 8446 §5.5 (and RFC 9001 §6.6) bound AES-GCM to about 2^24.5 records of
 *   2^14 bytes, i.e. 2^34.5 blocks of 16 bytes, per key, for an advantage near 2^-57. A key
 *   here seals at most 2^20 records of at most 2^16 bytes: 2^20 · (4096 + 1) < 2^32.01
 *   blocks, under that bound by more than 2^2.4. So a connection (or one stream) can carry
 *   any amount: it rekeys instead of running out.
 *
 * Nonce (12 bytes), unique per key (and, as the keys are per stream and epoch, it also names
 * the record a second time, so a record moved anywhere else fails twice over):
 *
 *     class u8 | stream index u24 big-endian | record counter u64 big-endian
 *
 *   class 0: bidi stream opened by the dialer    class 2: uni stream opened by the dialer
 *   class 1: bidi stream opened by the acceptor  class 3: uni stream opened by the acceptor
 *   class 4: datagram (stream index 0, record counter = datagram sequence)
 *
 * Both directions of a bidi stream use its class and index, each under its sender's keys.
 * Stream indexes count up from 0 per class, chosen by the opener.
 *
 * Stream, opener's direction: a preamble, the open record, then records. The acceptor's
 * direction of a bidi stream: records only.
 *
 *     preamble = stream index as a QUIC varint (RFC 9000 §16: 1, 2, 4 or 8 bytes, the top two
 *                bits of the first byte giving the length), shortest form only, < 2^24
 *     record   = type u8 | length u24 big-endian | ciphertext (length bytes)
 *
 *   The preamble and the open record are written together, in one transport write, the
 *   moment the stream is opened (no round trip), so the acceptor learns the index (and can
 *   answer on a bidi stream) before the opener writes anything. The stream reaches the
 *   acceptor's application, and its index counts as used, only once the open record has
 *   authenticated: a preamble alone proves nothing (anyone on the path can write one).
 *   ciphertext = AES-256-GCM(plaintext), 16-byte tag included; additional data = the 4 header
 *   bytes; nonce = (class, index, counter), where counter starts at 0 for each stream and
 *   direction and counts every record. So a record that is dropped, duplicated, reordered, or
 *   moved to another stream or direction does not authenticate.
 *   type 0, data: 1 to 65536 plaintext bytes (length 17 to 65552), so a 64 KiB write is one
 *                 record.
 *   type 1, end:  empty plaintext (length 16). It authenticates the clean end of the direction;
 *                 the transport stream must end right after it.
 *   type 2, open: empty plaintext (length 16), record counter 0: the first record of the
 *                 opener's direction and nowhere else (the opener's data records count from
 *                 1). It authenticates that the peer opened stream (class, index).
 *   type 3, reset: plaintext = code u32 (length 20): the sender aborted the direction with
 *                 that code. It is the direction's last record (the transport stream ends
 *                 right after it, with a FIN); the receiver's read fails with the code.
 *   type 4, close: plaintext = close code u32 | reason (0 to 1024 bytes of UTF-8), length 20
 *                 to 1044, record counter 0, in place of the open record on a uni stream of
 *                 its own (preamble, close record, FIN): the sender closed the connection with
 *                 that code and reason. Such a stream never reaches the application.
 *
 * Datagram:
 *
 *     sequence u64 big-endian | AES-256-GCM ciphertext (16-byte tag included)
 *
 *   sequence counts from 0 per sender; nonce = (4, 0, sequence); additional data = the 8
 *   sequence bytes; so the overhead is 24 bytes.
 *
 * Limits and errors (RecordError codes)
 * =====================================
 *
 * - At most 2^24 streams per class (indexes 0 to 2^24 - 1), and 2^48 datagrams per sender.
 *   Beyond: KEY_EXHAUSTED.
 * - MALFORMED, found before decrypting: a non-minimal preamble or an index >= 2^24; a
 *   preamble not followed by an open record header (2, 0, 0, 16) or, on a uni stream, a close
 *   record header (4, length 20 to 1044); a record type other than 0, 1 or 3 after it; a data
 *   record of length <= 16; an end record of length other than 16; a reset record of length
 *   other than 20; bytes after the end or reset record; a close record that is not valid
 *   UTF-8; a datagram under 24 bytes.
 * - RESET: the transport reset a stream (RESET_STREAM) without an authenticated reset record
 *   before it, or stopped the sender's direction (STOP_SENDING, which no record carries).
 *   Anyone on the path can do either, so the code is not the peer's: the transport's error is
 *   only the cause.
 * - AUTH_FAILED: a record (the open record included) or datagram that does not authenticate,
 *   or a datagram sequence two or more key epochs past the newest epoch that authenticated
 *   (a sender reaches an epoch only after 2^20 datagrams of the one before, so such a
 *   datagram needs a million losses in a row; it is refused before any key is derived).
 * - TRUNCATED: a stream that ends before its end record (or inside its preamble or open
 *   record).
 * - TIMEOUT: a stream the peer opened whose open record has not authenticated 10 s after the
 *   stream arrived.
 * - TOO_MANY: a stream the peer opened while 256 others wait for their open record (it is
 *   refused at once, so waiting streams hold bounded memory).
 * - TOO_MANY (the integrity limit): once more than 2^20 records, openings and datagrams have
 *   failed to authenticate (a failed unseal, not one refused before decrypting), the
 *   connection closes with INTEGRITY_LIMIT (0xffffff07), and every opening and datagram is
 *   refused with TOO_MANY. Each failure is a forgery attempt against the peer's keys; RFC 9001
 *   §6.6 bounds AES-GCM at 2^52 of them, and an honest path makes none (the transport has
 *   its own integrity per hop), so 2^20 leaves a wide margin while still tolerating a burst of
 *   garbage.
 * - REPLAYED, streams: per class the acceptor keeps a 4096-wide sliding window over the
 *   highest index accepted, as DTLS does for records (RFC 6347 §4.1.2.6): an index accepted
 *   before, or 4096 or more below the highest, is REPLAYED; any higher index is accepted and
 *   slides the window. So a stream that never arrives (reset before its first byte, or
 *   dropped by a relay) leaves a gap that is forgotten once the window passes it, instead of
 *   blocking its class.
 * - REPLAYED, datagrams: a 128-wide sliding window over the highest sequence that
 *   authenticated, as in DTLS (RFC 6347 §4.1.2.6): a duplicate, or a sequence 128 or more
 *   below the highest, is REPLAYED; reordering within the window is accepted.
 *
 * Every failure above cancels the transport stream (and aborts its other direction) with the
 * RecordError. A stream that fails before its open record authenticated never reaches the
 * application and uses up no index: a forged preamble cannot take the place of a real stream,
 * nor get an answer from the acceptor that could be spliced onto the real stream of its index.
 * What a relay can still do is what it can do to any transport: drop, delay or cut streams
 * (cut ones are TRUNCATED), and replay a genuine opening (preamble and open record) on a
 * stream of its own, cut short: the acceptor then sees the opener's authentic stream end
 * TRUNCATED, and the real one as REPLAYED. So an acceptor reads a request to its end before
 * acting on it.
 */

/**
 * Which side opened a stream and its kind: 0 bidi opened by the dialer, 1 bidi opened by the
 * acceptor, 2 uni opened by the dialer, 3 uni opened by the acceptor. It is the first byte of
 * every nonce on the stream.
 */
export type StreamClass = 0 | 1 | 2 | 3

/** The most plaintext one stream record carries; larger writes are split. */
export const maxRecordPlaintext = 65536

/** Bytes a sealed datagram adds to its payload: the 8-byte sequence and the 16-byte tag. */
export const datagramOverhead = 24

/** Bytes of the AES-GCM tag at the end of every ciphertext. */
export const tagLength = 16
/** Bytes of a record header: type u8, length u24. */
export const headerLength = 4
/** Bytes of a datagram's sequence number, in front of its ciphertext. */
export const sequenceLength = 8
/** Record type of a data record. */
export const dataRecord = 0
/** Record type of the end record. */
export const endRecord = 1
/** Record type of the open record, the first record of the opener's direction. */
export const openRecord = 2
/** Record type of the reset record: the sender's abort code, the direction's last record. */
export const resetRecord = 3
/** Record type of the close record, alone on a uni stream of its own: the connection's close. */
export const closeRecord = 4
/** Plaintext bytes of a reset record: the code, u32. */
export const resetPlaintextLength = 4
/** The most bytes of UTF-8 a close record's reason carries (as WebTransport's close). */
export const maxCloseReasonBytes = 1024
/** Smallest and largest length field of a close record: code u32, reason, tag. */
export const closeRecordLengths = { min: 4 + tagLength, max: 4 + maxCloseReasonBytes + tagLength }
/** Bytes of the open record on the wire: its header and the tag of its empty plaintext. */
export const openRecordLength = headerLength + tagLength
/** Nonce class of every datagram. */
export const datagramClass = 4
/**
 * Records one key seals: a stream direction (or the datagrams) moves to a new key after
 * each run of this many (see "Keys" above).
 */
export const recordsPerKey = 2 ** 20
/** Datagram sequences stay below 2^48 (so they are exact in a JavaScript number). */
export const maxDatagramSequence = 2 ** 48
/** Stream indexes are u24 in the nonce. */
export const maxStreamsPerClass = 2 ** 24

/** The 12-byte nonce of record `counter` on stream `index` of `nonceClass` (or of a datagram). */
export function nonce(nonceClass: number, index: number, counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12)
  const view = new DataView(iv.buffer)
  view.setUint32(0, ((nonceClass << 24) | index) >>> 0)
  view.setUint32(4, Math.floor(counter / 0x1_0000_0000))
  view.setUint32(8, counter >>> 0)
  return iv
}

/**
 * Why a record header after the open record is refused, or `undefined` if it is acceptable
 * (the open record itself is parsed by the record layer, see `stream-opening.ts`).
 */
export function headerProblem(type: number, length: number): string | undefined {
  if (type === dataRecord) {
    return length > tagLength && length <= maxRecordPlaintext + tagLength
      ? undefined
      : `a data record of length ${length} (17 to ${maxRecordPlaintext + tagLength})`
  }
  if (type === endRecord) {
    return length === tagLength ? undefined : `an end record of length ${length} (must be 16)`
  }
  if (type === resetRecord) {
    return length === resetPlaintextLength + tagLength
      ? undefined
      : `a reset record of length ${length} (must be ${resetPlaintextLength + tagLength})`
  }
  if (type === openRecord) return 'an open record after the start of the stream'
  if (type === closeRecord) return 'a close record after the start of the stream'
  return `unknown record type ${type}`
}
