package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p/a"}`,
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"run","Package":"p/a","Test":"TestDynamo"}`,
		`{"Action":"output","Package":"p/a","Test":"TestDynamo","Output":"    dynamo_test.go:12: no DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB)\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestDynamo","Output":"--- SKIP: TestDynamo (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/a","Test":"TestDynamo"}`,
		`{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.01s\n"}`,
		`{"Action":"pass","Package":"p/a"}`,
		`{"Action":"run","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:9: want 2, got 3\n"}`,
		`{"Action":"fail","Package":"p/b","Test":"TestBad"}`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.02s\n"}`,
		`{"Action":"fail","Package":"p/b"}`,
	}, "\n")
	var out strings.Builder
	if code := run(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d with a failed test, want 1", code)
	}
	for _, want := range []string{"ok  \tp/a", "FAIL\tp/b", "want 2, got 3", "skipped: 1", "p/a TestDynamo: no DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "TestOK") {
		t.Errorf("a passing test's output was printed:\n%s", out.String())
	}
	out.Reset()
	if code := run(strings.NewReader(`{"Action":"pass","Package":"p/a"}`), &out); code != 0 || !strings.Contains(out.String(), "skipped: none") {
		t.Errorf("all passing: exit %d\n%s", code, out.String())
	}
}
