// Package hostbrowser is reef's headless browser capability: the
// reef_browser_text, _html, _screenshot, _pdf and _run host functions,
// driving one shared Chromium (started lazily, restarted if it dies) or a
// remote DevTools endpoint through chromedp.
//
// # Confinement
//
// Every call gets a fresh incognito BrowserContext (no cookies, storage or
// cache survive the call) whose only proxy is an in-process HTTP proxy
// serving that call alone (proxy.go). The proxy decides every request the
// page makes — navigations, redirect hops, subresources, XHR/fetch,
// websockets, frames, popups, workers — with Policy.CheckBrowser, and
// makes every upstream connection through the http capability's guarded
// dialer (hosthttp.Guard.DialContext): names are resolved by reef, not by
// Chromium, and loopback, private, link-local and metadata addresses are
// refused unless granted as literal addresses, with no second lookup for a
// rebinding DNS server to exploit. The context is created with
// proxyBypassList "<-loopback>" so that Chromium does not silently bypass
// the proxy for localhost.
//
// CDP Fetch interception is a second layer for what a proxy cannot see:
// every document request of the call's tab (navigation, redirect hop,
// same-process frame) is paused and refused unless its scheme is http or
// https and its host is granted, and it enforces the per-call page cap.
// URLs the skill passes are checked the same way before anything loads,
// so file:, chrome:, data:, javascript: and other schemes are refused with
// a denial. Downloads are denied (Browser.setDownloadBehavior), popups are
// closed, and arbitrary JavaScript (run's "eval") needs the separate
// browser.eval capability.
//
// The browser itself is launched so that nothing can leave the machine
// even if a context had no proxy: --proxy-server points at a local dead
// end that drops every connection, Chromium's own DNS is disabled
// (--host-resolver-rules), and WebRTC may not use direct UDP.
//
// # Caveats
//
// A call's proxy listens on 127.0.0.1 for the length of the call; a local
// process that found its port could use it, but only toward the calling
// skill's granted hosts. A remote browser (REEF_BROWSER_URL) must share
// reef's network namespace so that it can reach those proxies, and its
// launch flags are the operator's responsibility.
//
// Request and response formats are documented in README.md.
package hostbrowser
