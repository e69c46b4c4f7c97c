package abi

// Import modules.
const (
	// EnvModule holds the Extism kernel and host functions.
	EnvModule = "extism:host/env"
	// UserModule holds reef's capability functions.
	UserModule = "extism:host/user"
)

// reef's bulk-copy kernel extensions, in EnvModule. They move a whole
// buffer per call instead of 8 bytes per call.
const (
	// ReefInputRead (dst i32, len i32) -> i32: copies up to len input bytes
	// into guest memory at dst; returns the number copied.
	ReefInputRead = "reef_input_read"
	// ReefOutputWrite (src i32, len i32): sets the output to guest memory
	// [src, src+len).
	ReefOutputWrite = "reef_output_write"
	// ReefErrorWrite (src i32, len i32): sets the error message from guest
	// memory.
	ReefErrorWrite = "reef_error_write"
	// ReefLoad (handle i64, dst i32, len i32) -> i32: copies a kernel
	// block into guest memory; returns bytes copied.
	ReefLoad = "reef_load"
	// ReefStore (src i32, len i32) -> i64: copies guest memory into a new
	// kernel block; returns its handle.
	ReefStore = "reef_store"
)

// Capability function names, in UserModule.
const (
	FSRead   = "reef_fs_read"
	FSWrite  = "reef_fs_write"
	FSAppend = "reef_fs_append"
	FSList   = "reef_fs_list"
	FSStat   = "reef_fs_stat"
	FSMkdir  = "reef_fs_mkdir"
	FSRemove = "reef_fs_remove"
	FSRename = "reef_fs_rename"
	FSGlob   = "reef_fs_glob"

	HTTPFetch = "reef_http_fetch"

	BrowserText       = "reef_browser_text"
	BrowserHTML       = "reef_browser_html"
	BrowserScreenshot = "reef_browser_screenshot"
	BrowserPDF        = "reef_browser_pdf"
	BrowserRun        = "reef_browser_run"

	MailSend   = "reef_mail_send"
	MailList   = "reef_mail_mailboxes"
	MailSearch = "reef_mail_search"
	MailFetch  = "reef_mail_fetch"
	MailMark   = "reef_mail_mark_seen"
	MailMove   = "reef_mail_move"

	KVGet    = "reef_kv_get"
	KVSet    = "reef_kv_set"
	KVDelete = "reef_kv_delete"
	KVList   = "reef_kv_list"
	KVCAS    = "reef_kv_cas"

	Log = "reef_log"
)
