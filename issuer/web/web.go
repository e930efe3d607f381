// Package web is the issuer's self-service page: one small page, served by
// the issuer itself, where a customer activates an offline appliance from a
// laptop.
//
// # What the customer does
//
// The customer enters the contract id and its token, then drops or picks the
// appliance's License Request File (.lrf), optionally picks an effective
// date, and gets the license as a download named after its id
// (L-….license), with its window and its case (initial, renewal, …). The
// page also shows the contract (tier, features, limits, seats, bound
// appliances, issued licenses on a time line, usage: per limit a chart of
// the peak over every report and each appliance's latest report against
// the limit, red when over), its ledger (every decision on it, newest
// first, older pages on request), takes release receipts and uploads usage
// reports (a file or pasted text). It talks only to the issuer's own API
// (POST /v1/activations, POST /v1/releases, POST /v1/reports, GET
// /v1/contracts/{id}, GET /v1/contracts/{id}/ledger, GET /v1/products) and
// shows every refusal as the problem's title and detail next to the field
// it concerns, with what the customer can do where the detail speaks to the
// vendor's staff: an LRF or a report refused because the appliance's clock
// is ahead (type clock-ahead) asks the vendor for a clock reset.
//
// # Why it is built this way
//
// Appliances sit in sites where the laptop may reach nothing but the issuer,
// so the page is three embedded files ([Handler] serves /, /app.js and
// /app.css) with no build step, no framework and nothing fetched from
// elsewhere. The token stays in the tab: in memory and sessionStorage,
// never in a URL, a cookie or persistent storage. Every answer carries a strict
// Content-Security-Policy (no inline script or style, no other origin,
// no framing), nosniff and no-referrer. The API itself sends no CORS
// headers: pages of other origins cannot call it from a browser.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed index.html app.css app.js
var files embed.FS

// CSP is the Content-Security-Policy of every answer: the page's own
// script, style and API, nothing inline, nothing from elsewhere, and never
// inside a frame (a framed page could be dressed up to collect tokens).
// Images are the page's own and data: URLs only (none are used today).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// An asset is one embedded file as it is served.
type asset struct {
	body        []byte
	contentType string
	etag        string
	// immutable marks the assets the page links with their content hash
	// (app.js?v=HASH): a request naming the current hash may be cached for a
	// year, as the next release changes the name.
	immutable bool
}

var (
	once   sync.Once
	assets map[string]*asset
)

func load() {
	read := func(name string) []byte {
		b, err := files.ReadFile(name)
		if err != nil {
			panic(err) // embedded at build time
		}
		return b
	}
	mk := func(body []byte, ct string, immutable bool) *asset {
		sum := sha256.Sum256(body)
		return &asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, immutable: immutable}
	}
	js := mk(read("app.js"), "text/javascript; charset=utf-8", true)
	css := mk(read("app.css"), "text/css; charset=utf-8", true)
	// index.html names its assets with their hashes, so a browser never
	// pairs a new page with an old script.
	html := read("index.html")
	html = bytes.Replace(html, []byte(`src="app.js"`), []byte(`src="app.js?v=`+strings.Trim(js.etag, `"`)+`"`), 1)
	html = bytes.Replace(html, []byte(`href="app.css"`), []byte(`href="app.css?v=`+strings.Trim(css.etag, `"`)+`"`), 1)
	assets = map[string]*asset{
		"/":        mk(html, "text/html; charset=utf-8", false),
		"/app.js":  js,
		"/app.css": css,
	}
}

// Handler serves the page: GET or HEAD of /, /app.js and /app.css, with
// the security headers on every answer, 404 for any other path and 405 for
// any other method.
func Handler() http.Handler { return http.HandlerFunc(serve) }

func serve(w http.ResponseWriter, r *http.Request) {
	once.Do(load)
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), payment=()")

	a := assets[r.URL.Path]
	if a == nil {
		h.Set("Cache-Control", "no-store")
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		h.Set("Cache-Control", "no-store")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	if a.immutable && r.URL.Query().Get("v") == strings.Trim(a.etag, `"`) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Revalidate every time (a 304 when unchanged), so a new release of
		// the issuer is seen at once.
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
