package webpage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

func TestAcceptsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7": true, // Chromium
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8":                                                                         true, // Firefox
		"*/*": false, "*/*,application/metalink4+xml,application/metalink+xml": false, "": false, // wget and curl, aria2c
		"TEXT/HTML": true, " text/html ; level=1 ; q=0.5": true, "text/html;q=0": false, "text/html; q=0.000, */*": false,
		"application/xhtml+xml": false, "text/htmlx": false, "application/json": false, "text/plain, text/html;q=0.1": true,
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := AcceptsHTML(r); got != want {
			t.Errorf("%q: %v, want %v", accept, got, want)
		}
	}
}

func TestPickLang(t *testing.T) {
	for in, want := range map[string]string{"": "en", "zh-CN,zh;q=0.9,en;q=0.8": "zh", "en-US,en;q=0.9,zh;q=0.8": "en",
		"fr, zh-TW;q=0.5": "zh", "de": "en", "zh;q=0, en;q=0.1": "en", "ZH-hans": "zh"} {
		if got := PickLang(in); got != want {
			t.Errorf("PickLang(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteError: the error page is self-contained HTML in the visitor's language with the
// status, the exact message, CORS and Retry-After, and no script.
func TestWriteError(t *testing.T) {
	r := httptest.NewRequest("GET", "/f.bin", nil)
	r.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	r.Header.Set("Origin", "https://alist.example.com")
	w := httptest.NewRecorder()
	if err := WriteError(w, r, &httpx.Error{Status: 429, Message: "203.0.113.7/32 exceeds the limit", RetryAfter: 42}); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for _, want := range []string{"<!DOCTYPE html>", `lang="zh-CN"`, Texts["zh"]["err_title"], "请等待 42 秒", "429 · 203.0.113.7/32 exceeds the limit"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the error page carries a script")
	}
	h := w.Header()
	if w.Code != 429 || h.Get("Retry-After") != "42" || h.Get("Access-Control-Allow-Origin") != "https://alist.example.com" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("%d %v", w.Code, h)
	}
}
