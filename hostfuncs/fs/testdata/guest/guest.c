// guest is a WASI command used by hostfs's tests: it performs one
// filesystem operation through wasi-libc and prints the result.
//
//	guest read PATH           print the file
//	guest write PATH TEXT     create/truncate and write TEXT
//	guest append PATH TEXT
//	guest ls DIR              print entry names, one per line
//	guest mkdir PATH | unlink PATH | rmdir PATH
//	guest rename FROM TO | symlink TARGET LINK | link FROM TO
//
// On failure it prints "ERR <strerror>" and exits 1.
//
// Build: clang-19 --target=wasm32-wasi -O2 -Wl,--strip-all -o guest.wasm guest.c
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(void) {
	printf("ERR %s\n", strerror(errno));
	return 1;
}

static int writefile(const char *path, const char *text, const char *mode) {
	FILE *f = fopen(path, mode);
	if (!f) return fail();
	size_t n = strlen(text);
	if (fwrite(text, 1, n, f) != n) { fclose(f); return fail(); }
	if (fclose(f) != 0) return fail();
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 3) { printf("usage\n"); return 2; }
	const char *op = argv[1], *a = argv[2], *b = argc > 3 ? argv[3] : "";
	if (!strcmp(op, "read")) {
		FILE *f = fopen(a, "r");
		if (!f) return fail();
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
		if (ferror(f)) return fail();
		fclose(f);
		return 0;
	}
	if (!strcmp(op, "write")) return writefile(a, b, "w");
	if (!strcmp(op, "append")) return writefile(a, b, "a");
	if (!strcmp(op, "ls")) {
		DIR *d = opendir(a);
		if (!d) return fail();
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) printf("%s\n", e->d_name);
		}
		closedir(d);
		return 0;
	}
	int rc;
	if (!strcmp(op, "mkdir")) rc = mkdir(a, 0755);
	else if (!strcmp(op, "unlink")) rc = unlink(a);
	else if (!strcmp(op, "rmdir")) rc = rmdir(a);
	else if (!strcmp(op, "rename")) rc = rename(a, b);
	else if (!strcmp(op, "symlink")) rc = symlink(a, b);
	else if (!strcmp(op, "link")) rc = link(a, b);
	else { printf("unknown op\n"); return 2; }
	if (rc != 0) return fail();
	printf("OK\n");
	return 0;
}
