// ere.h — a small POSIX extended regular expression matcher for
// file-search: "does this line match?", nothing more.
//
// Why not <regex.h>: wasi-libc's regcomp/regexec (TRE) and the stdio it
// pulls in for its assert() messages are about 55 KiB of the module; this
// file is about 7 KiB compiled. It accepts the same syntax as wasi-libc's
// regcomp(REG_EXTENDED | REG_NOSUB [| REG_ICASE]) and gives the same
// yes/no answer, byte by byte as wasi-libc's C locale does (checked
// against it on 80 000 random patterns; the only answers that differ put
// an assertion beside an empty alternative, such as \>|1*, which POSIX
// leaves unspecified and wasi-libc answers by its own rules):
//
//   atoms       c  .  [set]  [^set]  (re)  ^  $  \c (literal c)
//   sets        a-z  [:alpha:] … (the 12 POSIX classes); ']' first is literal;
//               [.x.] and [=x=] are refused ("Unknown collating element")
//   repeats     *  +  ?  {m}  {m,}  {m,n}  (m, n ≤ 255; may be stacked: a+*)
//   alternation a|b, empty branches match the empty string: (|a)
//   escapes     \t \n \r \f \a \e \w \W \s \S \d \D \b \B \< \> \xHH \x{H…}
//
// Matching is a Thompson NFA simulation (Pike VM without captures): time
// O(line length × program size), no backtracking, no recursion on the
// pattern at match time. Counted repeats are expanded; a program over
// ERE_MAX_PROG instructions is refused ("Out of memory") instead of
// growing without bound (x{255}{255} is fine, (x{255}){255}{255} is not).
#ifndef FILE_SEARCH_ERE_H
#define FILE_SEARCH_ERE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ERE_MAX_PROG (1 << 18)
#define ERE_DUP_MAX 255

// Error codes: the POSIX reg_errcode_t values wasi-libc uses, so messages
// read the same as regerror's.
enum { ERE_OK = 0, ERE_BADPAT = 2, ERE_ECOLLATE = 3, ERE_ECTYPE = 4, ERE_EESCAPE = 5, ERE_EBRACK = 7,
       ERE_EPAREN = 8, ERE_EBRACE = 9, ERE_BADBR = 10, ERE_ERANGE = 11, ERE_ESPACE = 12, ERE_BADRPT = 13 };

static const char *ere_errstr(int code) {
  switch (code) {
  case ERE_BADPAT: return "Invalid regexp";
  case ERE_ECOLLATE: return "Unknown collating element";
  case ERE_ECTYPE: return "Unknown character class name";
  case ERE_EESCAPE: return "Trailing backslash";
  case ERE_EBRACK: return "Missing ']'";
  case ERE_EPAREN: return "Missing ')'";
  case ERE_EBRACE: return "Missing '}'";
  case ERE_BADBR: return "Invalid contents of {}";
  case ERE_ERANGE: return "Invalid character range";
  case ERE_ESPACE: return "Out of memory";
  case ERE_BADRPT: return "Repetition not preceded by valid expression";
  }
  return "Unknown error";
}

// Instructions.
enum { ERE_SET, ERE_SPLIT, ERE_JMP, ERE_ASSERT, ERE_MATCH };
// Assertions.
enum { ERE_BOL, ERE_EOL, ERE_WB, ERE_NWB, ERE_BOW, ERE_EOW };

typedef struct {
  uint8_t op;
  uint8_t kind; // assertion kind
  int x, y;     // SET: set index; SPLIT: both targets; JMP: x
} ere_inst;

// AST node kinds.
enum { EN_EMPTY, EN_SET, EN_ASSERT, EN_CAT, EN_ALT, EN_REP };

typedef struct {
  uint8_t kind;
  int a, b;     // CAT/ALT: children; REP: child in a; SET: set index; ASSERT: kind in a
  int min, max; // REP (max -1: unbounded)
} ere_node;

typedef struct {
  ere_inst *prog;
  int nprog;
  uint8_t (*sets)[32];
  int nsets;
  // parse/compile state
  ere_node *nodes;
  int nnodes, capnodes, capsets;
  int icase;
  const char *s;
  int err;
  // match state
  int *lists, *stack, *mark;
} ere_t;

static int ere__isclass(int cls, int c) {
  switch (cls) {
  case 1: return (c | 32) - 'a' < 26u || c - '0' < 10u;               // alnum
  case 2: return (c | 32) - 'a' < 26u;                                 // alpha
  case 3: return c == ' ' || c == '\t';                                // blank
  case 4: return c < 32 || c == 127;                                   // cntrl
  case 5: return c - '0' < 10u;                                        // digit
  case 6: return c - 33 < 94u;                                         // graph
  case 7: return c - 'a' < 26u;                                        // lower
  case 8: return c - 32 < 95u;                                         // print
  case 9: return c - 33 < 94u && !ere__isclass(1, c);                  // punct
  case 10: return c == ' ' || c - '\t' < 5u;                           // space
  case 11: return c - 'A' < 26u;                                       // upper
  case 12: return c - '0' < 10u || (c | 32) - 'a' < 6u;                // xdigit
  }
  return 0;
}

static int ere__classid(const char *name, size_t n) {
  static const char names[] = "alnum\0alpha\0blank\0cntrl\0digit\0graph\0lower\0print\0punct\0space\0upper\0xdigit\0";
  const char *p = names;
  for (int id = 1; *p; id++, p += strlen(p) + 1)
    if (strlen(p) == n && !memcmp(p, name, n)) return id;
  return 0;
}

static int ere__word(int c) { return c == '_' || ere__isclass(1, c); }
static int ere__lower(int c) { return c - 'A' < 26u ? c | 32 : c; }
static int ere__upper(int c) { return c - 'a' < 26u ? c & ~32 : c; }

static int ere__node(ere_t *re, int kind, int a, int b) {
  if (re->err) return -1;
  if (re->nnodes == re->capnodes) {
    int cap = re->capnodes ? re->capnodes * 2 : 64;
    ere_node *n = (ere_node *)realloc(re->nodes, (size_t)cap * sizeof *n);
    if (!n) { re->err = ERE_ESPACE; return -1; }
    re->nodes = n;
    re->capnodes = cap;
  }
  ere_node *n = &re->nodes[re->nnodes];
  n->kind = (uint8_t)kind;
  n->a = a;
  n->b = b;
  n->min = n->max = 0;
  return re->nnodes++;
}

static int ere__newset(ere_t *re) {
  if (re->err) return -1;
  if (re->nsets == re->capsets) {
    int cap = re->capsets ? re->capsets * 2 : 16;
    uint8_t(*s)[32] = (uint8_t(*)[32])realloc(re->sets, (size_t)cap * 32);
    if (!s) { re->err = ERE_ESPACE; return -1; }
    re->sets = s;
    re->capsets = cap;
  }
  memset(re->sets[re->nsets], 0, 32);
  return re->nsets++;
}

static void ere__bit(uint8_t *set, int c) { set[c >> 3] |= (uint8_t)(1 << (c & 7)); }
static int ere__has(const uint8_t *set, int c) { return set[c >> 3] >> (c & 7) & 1; }

// ere__fold finishes a set: case folding under icase, then negation.
static void ere__fold(ere_t *re, uint8_t *set, int negate) {
  uint8_t out[32] = {0};
  for (int c = 1; c < 256; c++) {
    int in = ere__has(set, c) || (re->icase && (ere__has(set, ere__lower(c)) || ere__has(set, ere__upper(c))));
    if (in != negate) ere__bit(out, c);
  }
  memcpy(set, out, 32);
}

// ere__literal matches one byte c (c < 0: nothing), both cases under
// icase when fold is set.
static int ere__literal(ere_t *re, int c, int fold) {
  int si = ere__newset(re);
  if (si < 0) return -1;
  if (c > 0) {
    ere__bit(re->sets[si], c);
    if (fold) ere__fold(re, re->sets[si], 0);
  }
  return ere__node(re, EN_SET, si, 0);
}

// ere__bracket parses a bracket expression; re->s is just past '['.
static int ere__bracket(ere_t *re) {
  const char *s = re->s;
  int negate = *s == '^';
  if (negate) s++;
  int si = ere__newset(re);
  if (si < 0) return -1;
  uint8_t set[32] = {0};
  const char *start = s;
  for (;;) {
    unsigned char c = (unsigned char)*s;
    if (!c) { re->err = ERE_EBRACK; return -1; }
    if (c == ']' && s != start) { s++; break; }
    if (c == '-' && s != start && s[1] != ']' && (s[1] != '-' || s[2] == ']')) { re->err = ERE_ERANGE; return -1; }
    if (c == '[' && (s[1] == '.' || s[1] == '=')) { re->err = ERE_ECOLLATE; return -1; }
    if (c == '[' && s[1] == ':') {
      const char *name = s + 2;
      size_t n = 0;
      int id = 0;
      while (n < 14 && name[n] && name[n] != ':') n++;
      if (name[n] == ':') id = ere__classid(name, n);
      if (!id || name[n + 1] != ']') { re->err = ERE_ECTYPE; return -1; }
      for (int k = 1; k < 256; k++)
        if (ere__isclass(id, k)) ere__bit(set, k);
      s = name + n + 2;
      continue;
    }
    int lo = c, hi = c;
    s++;
    if (*s == '-' && s[1] != ']') {
      hi = (unsigned char)s[1];
      if (!hi || lo > hi) { re->err = ERE_ERANGE; return -1; }
      s += 2;
    }
    for (int k = lo; k <= hi; k++) ere__bit(set, k);
  }
  re->s = s;
  ere__fold(re, set, negate);
  memcpy(re->sets[si], set, 32);
  return ere__node(re, EN_SET, si, 0);
}

static int ere__hex(int c) {
  if (c - '0' < 10u) return c - '0';
  c |= 32;
  return c - 'a' < 6u ? c - 'a' + 10 : -1;
}

static int ere__alt(ere_t *re, int depth);

// ere__atom parses one atom (and no repeat); re->s is at it.
static int ere__atom(ere_t *re, int depth) {
  const char *s = re->s;
  switch (*s) {
  case '[':
    re->s = s + 1;
    return ere__bracket(re);
  case '(': {
    re->s = s + 1;
    if (depth >= 200) { re->err = ERE_ESPACE; return -1; }
    int n = ere__alt(re, depth + 1);
    if (re->err) return -1;
    if (*re->s != ')') { re->err = ERE_EPAREN; return -1; }
    re->s++;
    return n;
  }
  case '.': {
    re->s = s + 1;
    int si = ere__newset(re);
    if (si < 0) return -1;
    memset(re->sets[si], 0xFF, 32);
    re->sets[si][0] &= 0xFE; // NUL never occurs in a searched line
    return ere__node(re, EN_SET, si, 0);
  }
  case '^':
    re->s = s + 1;
    return ere__node(re, EN_ASSERT, ERE_BOL, 0);
  case '$':
    re->s = s + 1;
    return ere__node(re, EN_ASSERT, ERE_EOL, 0);
  case '*':
  case '{':
  case '+':
  case '?':
    re->err = ERE_BADRPT;
    return -1;
  case '\\': {
    char c = s[1];
    static const char macros[] = "t\tn\nr\rf\fa\ae\033";
    for (const char *m = macros; *m; m += 2)
      if (*m == c) { re->s = s + 2; return ere__literal(re, (unsigned char)m[1], 1); }
    const char *set = c == 'w' ? "[:alnum:]_]" : c == 'W' ? "^[:alnum:]_]" : c == 's' ? "[:space:]]" : c == 'S' ? "^[:space:]]"
                    : c == 'd' ? "[:digit:]]" : c == 'D' ? "^[:digit:]]" : NULL;
    if (set) {
      re->s = set;
      int n = ere__bracket(re);
      re->s = s + 2;
      return n;
    }
    int kind = c == 'b' ? ERE_WB : c == 'B' ? ERE_NWB : c == '<' ? ERE_BOW : c == '>' ? ERE_EOW : -1;
    if (kind >= 0) { re->s = s + 2; return ere__node(re, EN_ASSERT, kind, 0); }
    if (!c) { re->err = ERE_EESCAPE; return -1; }
    if (c == 'x') {
      s += 2;
      int len = 2, v = 0, i, d;
      if (*s == '{') { len = 8; s++; }
      for (i = 0; i < len && v < 0x110000 && (d = ere__hex((unsigned char)s[i])) >= 0; i++) v = 16 * v + d;
      s += i;
      if (len == 8) {
        if (*s != '}') { re->err = ERE_EBRACE; return -1; }
        s++;
      }
      re->s = s;
      // v is a wide character: in wasi-libc's C locale a byte b >= 0x80 reads
      // as 0xDF00+b, so only those and ASCII can match. \x is never case-folded.
      return ere__literal(re, v < 0x80 ? v : (v >= 0xDF80 && v <= 0xDFFF) ? v - 0xDF00 : -1, 0);
    }
    re->s = s + 2;
    return ere__literal(re, (unsigned char)c, 1); // \c is the literal c
  }
  case ')':
    if (!depth) break; // an unmatched ')' is a literal
    /* fallthrough */
  case '|':
  case 0:
    return ere__node(re, EN_EMPTY, 0, 0);
  }
  re->s = s + 1;
  return ere__literal(re, (unsigned char)*s, 1);
}

// ere__empty follows the way wasi-libc's regcomp matches node n with the
// empty string (the left branch of an alternation first): -1 when n cannot
// match empty, 1 when that way passes assertions, 0 when it passes none.
static int ere__empty(const ere_t *re, int n) {
  const ere_node *d = &re->nodes[n];
  int a, b;
  switch (d->kind) {
  case EN_EMPTY: return 0;
  case EN_ASSERT: return 1;
  case EN_SET: return -1;
  case EN_REP:
    a = ere__empty(re, d->a);
    return a < 0 && d->min == 0 ? 0 : a;
  case EN_ALT:
    a = ere__empty(re, d->a);
    return a >= 0 ? a : ere__empty(re, d->b);
  }
  a = ere__empty(re, d->a);
  b = ere__empty(re, d->b);
  return a < 0 || b < 0 ? -1 : a | b;
}

// ere__zerowidth is 1 when node n holds assertions and nothing that
// consumes a byte, 0 when it is empty, -1 otherwise.
static int ere__zerowidth(const ere_t *re, int n) {
  const ere_node *d = &re->nodes[n];
  switch (d->kind) {
  case EN_EMPTY: return 0;
  case EN_ASSERT: return 1;
  case EN_SET: return -1;
  case EN_REP: return ere__zerowidth(re, d->a);
  }
  int a = ere__zerowidth(re, d->a), b = ere__zerowidth(re, d->b);
  return a < 0 || b < 0 ? -1 : a | b;
}

static int ere__count(const char **sp) {
  const char *s = *sp;
  if (*s - '0' >= 10u) return -1;
  int n = 0;
  while (*s - '0' < 10u && n <= ERE_DUP_MAX) n = 10 * n + (*s++ - '0');
  *sp = s;
  return n;
}

// ere__branch parses a concatenation of repeated atoms.
static int ere__branch(ere_t *re, int depth) {
  int left = -1;
  for (;;) {
    int atom;
    if (*re->s == ')' && depth > 0) atom = ere__node(re, EN_EMPTY, 0, 0);
    else atom = ere__atom(re, depth);
    if (re->err) return -1;
    for (;;) {
      char c = *re->s;
      int min, max;
      if (c == '*' || c == '+' || c == '?') {
        min = c == '+';
        max = c == '?' ? 1 : -1;
        re->s++;
      } else if (c == '{') {
        const char *s = re->s + 1;
        min = ere__count(&s);
        max = min;
        if (*s == ',') {
          s++;
          max = ere__count(&s);
        }
        if ((max < min && max >= 0) || max > ERE_DUP_MAX || min > ERE_DUP_MAX || min < 0 || *s != '}') {
          re->err = ERE_BADBR;
          return -1;
        }
        re->s = s + 1;
      } else
        break;
      if (min == 0 && max == 0) atom = ere__node(re, EN_EMPTY, 0, 0);
      else if (ere__zerowidth(re, atom) == 1) {
        // wasi-libc's regcomp keeps a repeated assertion required: ^* is ^,
        // (\b)? is \b.
      } else {
        // ... and its way around a repeat taken zero times keeps the
        // assertions of the atom's own empty way: (^|a)* is (^|a)+.
        if (min == 0 && ere__empty(re, atom) == 1) min = 1;
        atom = ere__node(re, EN_REP, atom, 0);
        if (atom < 0) return -1;
        re->nodes[atom].min = min;
        re->nodes[atom].max = max;
      }
    }
    left = left < 0 ? atom : ere__node(re, EN_CAT, left, atom);
    if (re->err) return -1;
    char c = *re->s;
    if (!c || c == '|' || (c == ')' && depth > 0)) return left;
  }
}

static int ere__alt(ere_t *re, int depth) {
  int n = ere__branch(re, depth);
  while (!re->err && *re->s == '|') {
    re->s++;
    int r = ere__branch(re, depth);
    // An empty branch after one whose empty way passes assertions adds
    // nothing there: \<| and \<|^ are \<.
    if (r >= 0 && !(ere__empty(re, n) == 1 && ere__zerowidth(re, r) >= 0)) n = ere__node(re, EN_ALT, n, r);
  }
  return re->err ? -1 : n;
}

// ere__size is the number of instructions node n compiles to
// (saturating just above ERE_MAX_PROG).
static int64_t ere__size(const ere_t *re, int n) {
  const ere_node *d = &re->nodes[n];
  int64_t k, total;
  switch (d->kind) {
  case EN_EMPTY: return 0;
  case EN_SET:
  case EN_ASSERT: return 1;
  case EN_CAT: total = ere__size(re, d->a) + ere__size(re, d->b); break;
  case EN_ALT: total = ere__size(re, d->a) + ere__size(re, d->b) + 2; break;
  default:
    k = ere__size(re, d->a);
    total = d->max < 0 ? (d->min + 1) * k + 2 : d->min * k + (d->max - d->min) * (k + 1);
  }
  return total > ERE_MAX_PROG ? ERE_MAX_PROG + 1 : total;
}

static void ere__emit(ere_t *re, int n) {
  const ere_node d = re->nodes[n];
  ere_inst *p = re->prog;
  switch (d.kind) {
  case EN_EMPTY: return;
  case EN_SET: p[re->nprog++] = (ere_inst){ERE_SET, 0, d.a, 0}; return;
  case EN_ASSERT: p[re->nprog++] = (ere_inst){ERE_ASSERT, (uint8_t)d.a, 0, 0}; return;
  case EN_CAT:
    ere__emit(re, d.a);
    ere__emit(re, d.b);
    return;
  case EN_ALT: {
    int split = re->nprog++;
    ere__emit(re, d.a);
    int jmp = re->nprog++;
    p[split] = (ere_inst){ERE_SPLIT, 0, split + 1, re->nprog};
    ere__emit(re, d.b);
    p[jmp] = (ere_inst){ERE_JMP, 0, re->nprog, 0};
    return;
  }
  }
  // EN_REP: min mandatory copies, then (max-min) optional ones or a loop.
  for (int i = 0; i < d.min; i++) ere__emit(re, d.a);
  if (d.max < 0) {
    int split = re->nprog++;
    ere__emit(re, d.a);
    p[re->nprog] = (ere_inst){ERE_JMP, 0, split, 0};
    re->nprog++;
    p[split] = (ere_inst){ERE_SPLIT, 0, split + 1, re->nprog};
    return;
  }
  for (int i = d.min; i < d.max; i++) {
    int split = re->nprog++;
    ere__emit(re, d.a);
    p[split] = (ere_inst){ERE_SPLIT, 0, split + 1, re->nprog};
  }
}

static void ere_free(ere_t *re) {
  free(re->prog);
  free(re->sets);
  free(re->nodes);
  free(re->lists);
  memset(re, 0, sizeof *re);
}

// ere_comp compiles pattern; it returns ERE_OK or an error code for
// ere_errstr (and then holds nothing to free).
static int ere_comp(ere_t *re, const char *pattern, int icase) {
  memset(re, 0, sizeof *re);
  re->icase = icase;
  re->s = pattern;
  int root = ere__alt(re, 0);
  if (!re->err && *re->s) re->err = ERE_BADPAT; // not reached: the top level stops only at the end
  int64_t size = re->err ? 0 : ere__size(re, root) + 1;
  if (!re->err && size > ERE_MAX_PROG) re->err = ERE_ESPACE;
  if (!re->err) {
    re->prog = (ere_inst *)malloc((size_t)size * sizeof *re->prog);
    re->lists = (int *)malloc((size_t)size * 4 * sizeof(int));
    if (!re->prog || !re->lists) re->err = ERE_ESPACE;
  }
  if (re->err) {
    int err = re->err;
    ere_free(re);
    return err;
  }
  ere__emit(re, root);
  re->prog[re->nprog++] = (ere_inst){ERE_MATCH, 0, 0, 0};
  free(re->nodes);
  re->nodes = NULL;
  re->stack = re->lists + 2 * size;
  re->mark = re->stack + size;
  return ERE_OK;
}

static int ere__assert(int kind, int prev, int next, size_t pos) {
  switch (kind) {
  case ERE_BOL: return pos == 0;
  case ERE_EOL: return next == 0;
  case ERE_BOW: return !ere__word(prev) && ere__word(next);
  case ERE_EOW: return ere__word(prev) && !ere__word(next);
  case ERE_WB: return pos == 0 || next == 0 || ere__word(prev) != ere__word(next);
  case ERE_NWB: return pos != 0 && next != 0 && ere__word(prev) == ere__word(next);
  }
  return 0;
}

// ere__add adds pc and everything reachable from it without consuming a
// byte to list (marking with gen); it returns 1 when MATCH is reachable.
static int ere__add(const ere_t *re, int *list, int *n, int pc, int gen, int prev, int next, size_t pos) {
  int *stack = re->stack, sp = 0;
  stack[sp++] = pc;
  while (sp) {
    pc = stack[--sp];
    if (re->mark[pc] == gen) continue;
    re->mark[pc] = gen;
    const ere_inst *in = &re->prog[pc];
    switch (in->op) {
    case ERE_MATCH: return 1;
    case ERE_SET: list[(*n)++] = pc; break;
    case ERE_JMP: stack[sp++] = in->x; break;
    case ERE_SPLIT:
      stack[sp++] = in->y;
      stack[sp++] = in->x;
      break;
    case ERE_ASSERT:
      if (ere__assert(in->kind, prev, next, pos)) stack[sp++] = pc + 1;
      break;
    }
  }
  return 0;
}

// ere_match reports whether the pattern matches anywhere in s[0:n]
// (treated as one line: ^ and $ match only at its ends).
static int ere_match(const ere_t *re, const char *s, size_t n) {
  int size = re->nprog;
  int *cur = re->lists, *nxt = re->lists + size;
  int ncur = 0, gen = 0;
  for (int i = 0; i < size; i++) re->mark[i] = -1;
  int prev = 0;
  for (size_t pos = 0;; pos++) {
    int c = pos < n ? (unsigned char)s[pos] : 0;
    // Start a new attempt here (the search is unanchored); the threads
    // carried over were added with this generation's marks already.
    if (ere__add(re, cur, &ncur, 0, gen, prev, c, pos)) return 1;
    if (pos == n) return 0;
    int nnxt = 0;
    gen++;
    for (int i = 0; i < ncur; i++) {
      const ere_inst *in = &re->prog[cur[i]];
      if (ere__has(re->sets[in->x], c) && ere__add(re, nxt, &nnxt, cur[i] + 1, gen, c, pos + 1 < n ? (unsigned char)s[pos + 1] : 0, pos + 1))
        return 1;
    }
    int *t = cur;
    cur = nxt;
    nxt = t;
    ncur = nnxt;
    prev = c;
  }
}

#endif
