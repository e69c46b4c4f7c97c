// hash-digest: SHA-256, SHA-1, MD5 and CRC-32 of text or base64 data.
#include "reef.h"

/* ---------------------------------------------------------------- SHA-256 */
typedef struct { uint32_t h[8]; uint64_t n; uint8_t buf[64]; size_t bl; } sha256_ctx;
static const uint32_t K256[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,
  0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,
  0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,
  0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

static void sha256_block(uint32_t *h, const uint8_t *p) {
  uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3), s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
    w[i] = w[i-16] + s0 + w[i-7] + s1;
  }
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha1_block(uint32_t *h, const uint8_t *p) {
  uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 80; i++) w[i] = ROL(w[i-3] ^ w[i-8] ^ w[i-14] ^ w[i-16], 1);
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
    else { f = b ^ c ^ d; k = 0xCA62C1D6; }
    uint32_t t = ROL(a, 5) + f + e + k + w[i];
    e = d; d = c; c = ROL(b, 30); b = a; a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static const uint32_t KMD5[64] = {
  0xd76aa478,0xe8c7b756,0x242070db,0xc1bdceee,0xf57c0faf,0x4787c62a,0xa8304613,0xfd469501,0x698098d8,0x8b44f7af,0xffff5bb1,0x895cd7be,
  0x6b901122,0xfd987193,0xa679438e,0x49b40821,0xf61e2562,0xc040b340,0x265e5a51,0xe9b6c7aa,0xd62f105d,0x02441453,0xd8a1e681,0xe7d3fbc8,
  0x21e1cde6,0xc33707d6,0xf4d50d87,0x455a14ed,0xa9e3e905,0xfcefa3f8,0x676f02d9,0x8d2a4c8a,0xfffa3942,0x8771f681,0x6d9d6122,0xfde5380c,
  0xa4beea44,0x4bdecfa9,0xf6bb4b60,0xbebfbc70,0x289b7ec6,0xeaa127fa,0xd4ef3085,0x04881d05,0xd9d4d039,0xe6db99e5,0x1fa27cf8,0xc4ac5665,
  0xf4292244,0x432aff97,0xab9423a7,0xfc93a039,0x655b59c3,0x8f0ccc92,0xffeff47d,0x85845dd1,0x6fa87e4f,0xfe2ce6e0,0xa3014314,0x4e0811a1,
  0xf7537e82,0xbd3af235,0x2ad7d2bb,0xeb86d391};
static const uint8_t RMD5[64] = {7,12,17,22,7,12,17,22,7,12,17,22,7,12,17,22,5,9,14,20,5,9,14,20,5,9,14,20,5,9,14,20,
  4,11,16,23,4,11,16,23,4,11,16,23,4,11,16,23,6,10,15,21,6,10,15,21,6,10,15,21,6,10,15,21};

static void md5_block(uint32_t *h, const uint8_t *p) {
  uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];
  for (int i = 0; i < 16; i++) m[i] = le32(p + 4 * i);
  for (int i = 0; i < 64; i++) {
    uint32_t f; int g;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
    else { f = c ^ (b | ~d); g = (7 * i) % 16; }
    uint32_t t = d; d = c; c = b;
    b = b + ROL(a + f + KMD5[i] + m[g], RMD5[i]);
    a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d;
}

/* md_hash runs a Merkle–Damgård hash with 64-byte blocks over data. */
static void md_hash(void (*block)(uint32_t *, const uint8_t *), uint32_t *h, int little, const uint8_t *data, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) block(h, data + i);
  uint8_t tail[128] = {0};
  size_t r = n - i;
  memcpy(tail, data + i, r);
  tail[r] = 0x80;
  size_t tl = r + 9 <= 64 ? 64 : 128;
  uint64_t bits = (uint64_t)n * 8;
  for (int k = 0; k < 8; k++) tail[little ? tl - 8 + k : tl - 1 - k] = (uint8_t)(bits >> (8 * k));
  block(h, tail);
  if (tl == 128) block(h, tail + 64);
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

/* ---------------------------------------------------------------- encoding */
static void put_digest(reef_buf *out, const uint8_t *d, size_t n, int b64) {
  if (b64) {
    reef_buf__sep(out);
    reef_buf_raw(out, "\"", 1); reef_base64(out, d, n); reef_buf_raw(out, "\"", 1);
    return;
  }
  static const char hx[] = "0123456789abcdef";
  char s[130];
  for (size_t i = 0; i < n; i++) { s[2*i] = hx[d[i] >> 4]; s[2*i+1] = hx[d[i] & 15]; }
  reef_jw_strn(out, s, 2 * n);
}

static void words_out(uint8_t *d, const uint32_t *h, int nw, int little) {
  for (int i = 0; i < nw; i++)
    for (int k = 0; k < 4; k++) d[4*i+k] = (uint8_t)(h[i] >> (little ? 8*k : 24 - 8*k));
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* b64decode decodes standard or URL-safe base64, padded or not, in place. */
static long b64decode(char *s, size_t n) {
  size_t o = 0; uint32_t acc = 0; int bits = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=' ) { for (; i < n; i++) if (s[i] != '=') return -1; break; }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    int v = b64val(c);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v; bits += 6;
    if (bits >= 8) { bits -= 8; s[o++] = (char)(acc >> bits); }
  }
  if (bits >= 6) return -1;
  return (long)o;
}

static int fail(const char *msg, char *in) { reef_error(msg); free(in); return 1; }

REEF_EXPORT("digest") int32_t digest(void) {
  size_t n;
  char *in = reef_input(&n);
  if (!in) { reef_error("out of memory"); return 1; }
  reef_json root;
  char msg[128];
  if (reef_json_parse(in, n, &root, msg, sizeof msg) != 0) return fail(msg, in);
  size_t dl = 0;
  char *data = reef_json_get_string(root, "text", &dl);
  char *b64 = reef_json_get_string(root, "base64", NULL);
  if ((data != NULL) == (b64 != NULL)) { free(data); free(b64); return fail("give exactly one of \"text\" or \"base64\"", in); }
  if (b64) {
    long m = b64decode(b64, strlen(b64));
    if (m < 0) { free(b64); return fail("\"base64\" is not valid base64", in); }
    data = b64; dl = (size_t)m;
  }
  char *enc = reef_json_get_string(root, "encoding", NULL);
  int use_b64 = enc && !strcmp(enc, "base64");
  if (enc && !use_b64 && strcmp(enc, "hex")) { free(enc); free(data); return fail("\"encoding\" must be hex or base64", in); }
  free(enc);

  /* Algorithms: the list given, or all four. */
  const char *names[] = {"sha256", "sha1", "md5", "crc32"};
  int want[4] = {1, 1, 1, 1};
  reef_json algs;
  if (reef_json_get(root, "algorithms", &algs)) {
    memset(want, 0, sizeof want);
    size_t na = reef_json_len(algs);
    for (size_t i = 0; i < na; i++) {
      reef_json a; reef_json_at(algs, i, &a);
      char *s = reef_json_string(a, NULL);
      int ok = 0;
      for (int k = 0; s && k < 4; k++) if (!strcmp(s, names[k])) { want[k] = 1; ok = 1; }
      if (!ok) {
        reef_buf e = {0};
        reef_buf_raw(&e, "unknown algorithm ", 18);
        reef_jw__quoted(&e, s ? s : "?", s ? strlen(s) : 1);
        reef_buf_raw(&e, " (use sha256, sha1, md5 or crc32)", 33);
        reef_error(e.p); reef_buf_free(&e); free(s); free(data); free(in);
        return 1;
      }
      free(s);
    }
  }

  const uint8_t *d = (const uint8_t *)data;
  reef_buf out = {0};
  reef_jw_begin(&out, '{');
  reef_jw_key(&out, "bytes"); reef_jw_int(&out, (int64_t)dl);
  uint8_t dg[32];
  if (want[0]) {
    uint32_t h[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
    md_hash(sha256_block, h, 0, d, dl); words_out(dg, h, 8, 0);
    reef_jw_key(&out, "sha256"); put_digest(&out, dg, 32, use_b64);
  }
  if (want[1]) {
    uint32_t h[5] = {0x67452301,0xEFCDAB89,0x98BADCFE,0x10325476,0xC3D2E1F0};
    md_hash(sha1_block, h, 0, d, dl); words_out(dg, h, 5, 0);
    reef_jw_key(&out, "sha1"); put_digest(&out, dg, 20, use_b64);
  }
  if (want[2]) {
    uint32_t h[4] = {0x67452301,0xefcdab89,0x98badcfe,0x10325476};
    md_hash(md5_block, h, 1, d, dl); words_out(dg, h, 4, 1);
    reef_jw_key(&out, "md5"); put_digest(&out, dg, 16, use_b64);
  }
  if (want[3]) {
    uint32_t c = crc32(d, dl);
    uint8_t cb[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    reef_jw_key(&out, "crc32"); put_digest(&out, cb, 4, use_b64);
  }
  reef_jw_end(&out, '}');
  if (out.oom) { reef_buf_free(&out); free(data); return fail("out of memory", in); }
  reef_output(out.p, out.len);
  reef_buf_free(&out);
  free(data);
  free(in);
  return 0;
}
