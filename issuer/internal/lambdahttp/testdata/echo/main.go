// Command echo is a Lambda function that answers every request with what it
// received. The runtime tests build it to check the adapter inside the real
// aws-lambda-go runtime loop without the issuer.
package main

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/tenurehq/tenure/issuer/internal/lambdahttp"
)

func main() {
	lambdahttp.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("echo was asked to panic")
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"authorization": r.Header.Get("Authorization"), "body": string(body), "remote": r.RemoteAddr,
		})
	}))
}
