// mail-digest: a summary of the unseen mail in one mailbox of an account
// the operator configured: counts, senders, and per message the sender,
// subject, date and the start of its text (reef_mail_search with
// previews: one IMAP search and fetch for the whole list, never changing a
// flag).
#include "reef.h"

#define DEFAULT_LIMIT 20

static int fail(const char *what, const char *msg) {
  reef_buf b = {0};
  reef_buf_raw(&b, what, strlen(what));
  reef_buf_raw(&b, ": ", 2);
  reef_buf_raw(&b, msg, strlen(msg));
  reef_buf_raw(&b, "", 1);
  reef_error(b.oom ? what : b.p);
  reef_buf_free(&b);
  return 1;
}

// sender is one distinct From address among the listed messages.
typedef struct sender {
  char *address;
  char *name;
  int count;
} sender;

REEF_EXPORT("digest") int32_t digest(void) {
  reef_json in;
  char *inbuf;
  int rc = reef_input_json(&in, &inbuf);
  if (rc) return rc;
  if (reef_json_type(in) != REEF_JSON_OBJECT) { free(inbuf); return fail("input", "want a JSON object"); }

  char *account = reef_json_get_string(in, "account", NULL);
  char *mailbox = reef_json_get_string(in, "mailbox", NULL);
  char *since = reef_json_get_string(in, "since", NULL);
  int64_t limit = reef_json_get_int(in, "limit", DEFAULT_LIMIT);
  free(inbuf);
  int status = 1;
  char *resp = NULL, *boxes = NULL;
  size_t n = 0, nb = 0;
  sender *senders = NULL;
  size_t nsenders = 0;
  reef_err err = {0};
  reef_buf out = {0};
  const char *mb = mailbox && *mailbox ? mailbox : "INBOX";

  if (limit < 1 || limit > 200) { fail("input", "\"limit\" must be 1 to 200"); goto done; }

  reef_mail_query q = {.account = account, .mailbox = mb, .unseen = 1, .since = since, .limit = (int)limit, .preview = 1};
  if (reef_mail_search(&q, &resp, &n, &err) != REEF_OK) {
    fail("searching unseen mail", err.message ? err.message : "mail error");
    goto done;
  }
  reef_json root, msgs;
  if (reef_json_parse(resp, n, &root, NULL, 0) != 0 || !reef_json_get(root, "messages", &msgs)) {
    fail("searching unseen mail", "the host's answer is not the documented JSON");
    goto done;
  }
  int64_t unseen = reef_json_get_int(root, "total", 0);
  size_t count = reef_json_len(msgs);

  // The mailbox's size, for "3 unseen of 120". Best effort: the search
  // above already proved the mailbox is granted and readable.
  int64_t total = -1;
  if (reef_mail_mailboxes(account, &boxes, &nb, &err) == REEF_OK) {
    reef_json broot, list, item;
    if (reef_json_parse(boxes, nb, &broot, NULL, 0) == 0 && reef_json_get(broot, "mailboxes", &list)) {
      for (size_t i = 0; reef_json_at(list, i, &item); i++) {
        char *name = reef_json_get_string(item, "name", NULL);
        int same = name && (strcmp(name, mb) == 0 || (strcasecmp(name, "INBOX") == 0 && strcasecmp(mb, "INBOX") == 0));
        free(name);
        if (same) { total = reef_json_get_int(item, "messages", -1); break; }
      }
    }
  } else {
    reef_err_free(&err);
  }

  senders = calloc(count ? count : 1, sizeof *senders);
  if (!senders) { fail("digest", "out of memory"); goto done; }

  reef_jw_begin(&out, '{');
  reef_jw_kstr(&out, "mailbox", mb);
  reef_jw_key(&out, "unseen"); reef_jw_int(&out, unseen);
  if (total >= 0) { reef_jw_key(&out, "total"); reef_jw_int(&out, total); }
  reef_jw_key(&out, "listed"); reef_jw_int(&out, (int64_t)count);
  reef_jw_key(&out, "more"); reef_jw_bool(&out, unseen > (int64_t)count);
  reef_jw_key(&out, "messages");
  reef_jw_begin(&out, '[');
  reef_json m, from, first;
  for (size_t i = 0; reef_json_at(msgs, i, &m); i++) {
    char *addr = NULL, *name = NULL;
    if (reef_json_get(m, "from", &from) && reef_json_at(from, 0, &first)) {
      addr = reef_json_get_string(first, "address", NULL);
      name = reef_json_get_string(first, "name", NULL);
    }
    char *subject = reef_json_get_string(m, "subject", NULL);
    char *date = reef_json_get_string(m, "date", NULL);
    char *preview = reef_json_get_string(m, "preview", NULL);
    reef_jw_begin(&out, '{');
    reef_jw_key(&out, "uid"); reef_jw_int(&out, reef_json_get_int(m, "uid", 0));
    reef_jw_kstr(&out, "from", addr ? addr : "");
    reef_jw_kstr_opt(&out, "from_name", name);
    reef_jw_kstr(&out, "subject", subject ? subject : "");
    reef_jw_kstr_opt(&out, "date", date);
    reef_jw_kstr(&out, "preview", preview ? preview : "");
    reef_jw_end(&out, '}');

    // Tally the sender (addresses compare case-insensitively).
    const char *key = addr ? addr : "";
    size_t j = 0;
    while (j < nsenders && strcasecmp(senders[j].address, key) != 0) j++;
    if (j == nsenders) {
      senders[j].address = addr ? addr : strdup("");
      senders[j].name = name;
      addr = name = NULL;
      nsenders++;
    }
    senders[j].count++;
    free(addr); free(name); free(subject); free(date); free(preview);
  }
  reef_jw_end(&out, ']');

  // Senders by count, most first; ties keep first-seen (newest) order.
  for (size_t i = 1; i < nsenders; i++) {
    sender s = senders[i];
    size_t j = i;
    while (j > 0 && senders[j - 1].count < s.count) { senders[j] = senders[j - 1]; j--; }
    senders[j] = s;
  }
  reef_jw_key(&out, "senders");
  reef_jw_begin(&out, '[');
  for (size_t i = 0; i < nsenders; i++) {
    reef_jw_begin(&out, '{');
    reef_jw_kstr(&out, "address", senders[i].address);
    reef_jw_kstr_opt(&out, "name", senders[i].name);
    reef_jw_key(&out, "count"); reef_jw_int(&out, senders[i].count);
    reef_jw_end(&out, '}');
  }
  reef_jw_end(&out, ']');
  reef_jw_end(&out, '}');
  if (out.oom) { fail("digest", "out of memory"); goto done; }
  reef_output_json(&out);
  status = 0;

done:
  for (size_t i = 0; i < nsenders; i++) { free(senders[i].address); free(senders[i].name); }
  free(senders);
  reef_buf_free(&out);
  reef_err_free(&err);
  free(resp); free(boxes);
  free(account); free(mailbox); free(since);
  return status;
}
