// ere_diff: file-search's ere.h against wasi-libc's regcomp/regexec on random
// patterns and lines; see README.md.
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include "ere.h"
static unsigned long long st = 88172645463325252ULL;
static unsigned rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return (unsigned)st; }
static const char *toks[] = {"a","b","c","A","B","x","_"," ",".","*","+","?","|","(",")","^","$","[","]","[^","-","{","}","{2}","{1,3}","{0,}","{,2}","{2,1}","\\","\\w","\\W","\\s","\\d","\\D","\\b","\\B","\\<","\\>","\\.","\\x41","\\x{62}","[:alpha:]","[:upper:]","[:lower:]","[:digit:]","[:punct:]","[:space:]","[:foo:]","[.a.]","[=a=]","a-c","z-a","0","9","\xc3\xa9","\xe9","\t","{1}","(a|b)","(|a)","()","{0}","{255}","{256}","1","(^)","(\\<)","(^|a)","($)*","(\\b)?"};
static const char subjchars[] = "abcABCxyz_ .-019\t()[]{}|*+?$^\\\xc3\xa9";
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000, bad = 0, comp_ok = 0, matches = 0;
  if (argc > 2) st = strtoull(argv[2], 0, 10);
  char pat[200], subj[64];
  for (int it = 0; it < n && bad < 30; it++) {
    int nt = 1 + rnd() % 7; pat[0] = 0;
    for (int k = 0; k < nt; k++) strcat(pat, toks[rnd() % (sizeof toks / sizeof *toks)]);
    int icase = rnd() % 3 == 0;
    regex_t r; ere_t e;
    int e1 = regcomp(&r, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    int e2 = ere_comp(&e, pat, icase);
    if ((e1 != 0) != (e2 != 0) || (e1 && e1 != e2)) { printf("COMPILE pat=[%s] icase=%d tre=%d ere=%d\n", pat, icase, e1, e2); bad++; if (!e1) regfree(&r); if (!e2) ere_free(&e); continue; }
    if (e1) continue;
    comp_ok++;
    for (int j = 0; j < 40; j++) {
      int len = rnd() % 12;
      for (int k = 0; k < len; k++) subj[k] = subjchars[rnd() % (sizeof subjchars - 1)];
      subj[len] = 0;
      int m1 = regexec(&r, subj, 0, NULL, 0) == 0;
      int m2 = ere_match(&e, subj, strlen(subj));
      matches += m1;
      if (m1 != m2) { printf("MATCH pat=[%s] icase=%d subj=[%s] tre=%d ere=%d\n", pat, icase, subj, m1, m2); bad++; break; }
    }
    regfree(&r); ere_free(&e);
  }
  printf("done: compiled=%d matched=%d bad=%d\n", comp_ok, matches, bad);
  return 0;
}
