package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"

	"lambdalab/cloud"
)

// BenchmarkS3 compares PUT and GET throughput of this package's handler,
// on SQLite and files, with gofakes3 on its in-memory backend, in the same
// run: the same HTTP server, client and requests, the caller already known
// (as after the endpoint), so the difference is the storage. Aim: at least
// half the in-memory throughput.
func BenchmarkS3(b *testing.B) {
	w := newWorld(b)
	a := w.account()
	withCaller := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(rw, r.WithContext(cloud.WithPrincipal(r.Context(), cloud.Principal{AccountID: a.id})))
		})
	}
	servers := []struct {
		name string
		h    http.Handler
	}{
		{"lambdalab", withCaller(w.svc)},
		{"s3mem", withCaller(gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0)).Server())},
	}
	for _, size := range []int{1 << 10, 1 << 20} {
		body := randomBytes(size)
		for _, s := range servers {
			srv := httptest.NewServer(s.h)
			client := srv.Client()
			do := func(b *testing.B, method, path string, body []byte) {
				req, _ := http.NewRequestWithContext(context.Background(), method, srv.URL+path, bytes.NewReader(body))
				req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s %s: %d", method, path, resp.StatusCode)
				}
			}
			bucket := "bench-" + strconv.Itoa(size)
			do(b, "PUT", "/"+bucket, nil)
			label := fmt.Sprintf("%dKB", size>>10)
			b.Run("PUT/"+label+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					do(b, "PUT", fmt.Sprintf("/%s/k%d", bucket, i%100), body)
					i++
				}
			})
			do(b, "PUT", "/"+bucket+"/get", body)
			b.Run("GET/"+label+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					do(b, "GET", "/"+bucket+"/get", nil)
				}
			})
			srv.Close()
		}
	}
}
