package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// apiResources are the lists the kubernetes plugin of CoreDNS reads, by path.
var apiResources = map[string]struct{ kind, apiVersion string }{
	"/api/v1/services":                         {"Service", "v1"},
	"/api/v1/namespaces":                       {"Namespace", "v1"},
	"/api/v1/pods":                             {"Pod", "v1"},
	"/api/v1/endpoints":                        {"Endpoints", "v1"},
	"/apis/discovery.k8s.io/v1/endpointslices": {"EndpointSlice", "discovery.k8s.io/v1"},
}

// APIServer stands in for the Kubernetes API on 127.0.0.1 and returns its URL. It answers
// the list and watch calls of the kubernetes plugin with a fixed set of objects (path ->
// the JSON of each object), and a watch-list stream (client-go's default) with the objects
// and then the bookmark that ends the initial events; nothing changes until the test ends.
// If the test fails, the requests it saw are logged.
func APIServer(t testing.TB, objects map[string][]string) string {
	t.Helper()
	done := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		res, ok := apiResources[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		items := objects[r.URL.Path]
		q := r.URL.Query()
		if q.Get("watch") != "true" && q.Get("watch") != "1" {
			fmt.Fprintf(w, `{"kind":"%sList","apiVersion":"%s","metadata":{"resourceVersion":"1"},"items":[%s]}`,
				res.kind, res.apiVersion, strings.Join(items, ","))
			return
		}
		w.WriteHeader(http.StatusOK)
		if q.Get("sendInitialEvents") == "true" {
			for _, it := range items {
				fmt.Fprintf(w, "{\"type\":\"ADDED\",\"object\":%s}\n", it)
			}
			fmt.Fprintf(w, `{"type":"BOOKMARK","object":{"kind":"%s","apiVersion":"%s","metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n",
				res.kind, res.apiVersion)
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.CloseClientConnections()
		srv.Close()
		if t.Failed() {
			mu.Lock()
			t.Logf("API requests:\n%s", strings.Join(seen, "\n"))
			mu.Unlock()
		}
	})
	return srv.URL
}
