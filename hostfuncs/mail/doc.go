// Package hostmail is reef's mail capability: SMTP send and IMAP read
// through accounts the operator configured (config.yaml, mail.accounts).
//
// A skill never sees credentials. It names an account (or gets the only one
// granted), and every recipient, mailbox and modification is decided by the
// skill's effective policy (policy.Policy.MailAccount, CheckRecipient,
// CheckMailbox) before any connection is made.
//
// # Send
//
// reef_mail_send builds the message with github.com/wneessen/go-mail, which
// encodes every header value itself, so a subject or an address can never
// start a new header line. The handler also refuses CR, LF, NUL and other
// control characters in the subject, addresses, attachment names and types
// with an "invalid" error, so a broken request fails loudly instead of being
// silently rewritten. Every recipient (to, cc, bcc) must be a single bare
// address ("a@b.org": no display name, no group, no comment) allowed by the
// grant; one refused recipient refuses the whole message, and nothing is
// sent. Sends are rate limited per skill with a token bucket
// (Options.SendRate).
//
// # Read
//
// reef_mail_mailboxes, reef_mail_search, reef_mail_fetch,
// reef_mail_mark_seen and reef_mail_move speak IMAP through
// github.com/emersion/go-imap/v2. Reads open the mailbox read-only
// (EXAMINE) and fetch with BODY.PEEK, so reading never changes flags;
// mark_seen and move need the "modify" grant on every mailbox involved.
//
// # Connections
//
// SMTP uses a fresh connection per send (a send is one transaction; mail
// providers drop idle SMTP sessions quickly). IMAP keeps a small pool of
// logged-in connections per account (Options.IMAPIdle, default 2): a pooled
// connection that the server closed is detected and replaced, and a call
// that fails on a reused connection with a connection error is retried once
// on a fresh one ("reconnect on dropped connections"). Every network
// operation of a call is bounded by min(call deadline, account timeout):
// when that expires the connection is closed, which unblocks every pending
// read and write.
//
// # Credentials
//
// Passwords are read at use time from the environment variable or file the
// account names (password_env, password_file); a literal "password" key in
// the configuration is rejected. Passwords are never logged, and errors are
// scrubbed of the password before they leave the package.
//
// See README.md for the request and response formats.
package hostmail
