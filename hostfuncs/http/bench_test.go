package hosthttp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/reefhq/reef/hostfuncs/abi/abitest"
)

// BenchmarkFetch compares reef_http_fetch (policy check, guarded dial,
// response framing) with a plain net/http client fetching the same body
// from the same loopback server, in the same run. Both keep connections
// alive, so the difference is reef's per-request work.
func BenchmarkFetch(b *testing.B) {
	for _, size := range []int{27, 64 << 10, 1 << 20} {
		payload := bytes.Repeat([]byte("r"), size)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			_, _ = w.Write(payload)
		}))
		url := srv.URL + "/body"
		name := strconv.Itoa(size>>10) + "KiB"
		if size < 1<<10 {
			name = strconv.Itoa(size) + "B"
		}

		b.Run(name+"/reef", func(b *testing.B) {
			m := newTestModule(b, newStub(nil), func(o *Options) { o.MaxRequestsPerCall = 1 << 30 })
			p := grantSpec{requested: []string{srv.URL}, granted: []string{srv.URL}}.policy(b, nil)
			req := []byte(`{"url":"` + url + `"}`)
			h := m.Funcs()[0].Handler
			c := abitest.New(context.Background(), "bench", p)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				out, err := h(c, req, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(out) < size {
					b.Fatalf("short response %d", len(out))
				}
			}
		})

		b.Run(name+"/net-http", func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				// Preallocate from Content-Length as reef does, so the
				// comparison measures reef's checks, not buffer growth.
				var buf bytes.Buffer
				buf.Grow(int(resp.ContentLength) + 1)
				_, err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if err != nil || buf.Len() != size {
					b.Fatalf("read %d: %v", buf.Len(), err)
				}
			}
		})
		srv.Close()
	}
}
