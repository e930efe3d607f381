#!/usr/bin/env bash
# `make lambda`: the issuer as an AWS Lambda function for the provided.al2023
# runtime on arm64 (issuer/deploy/template.yaml deploys it). The binary must
# be called bootstrap; -tags lambda.norpc drops the RPC path only the old go1.x
# runtime used. The zip is reproducible: fixed timestamps, one file, mode 0755.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist/lambda
zip=dist/tenure-issuer-lambda.zip
mkdir -p "$out"
rm -f "$out/bootstrap" "$zip"

GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath \
  -ldflags "-s -w ${LDFLAGS:-}" -o "$out/bootstrap" ./issuer/cmd/tenure-issuer

if command -v python3 >/dev/null; then
  python3 - "$out/bootstrap" "$zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # a regular file Lambda may execute
info.compress_type = zipfile.ZIP_DEFLATED
info.create_system = 3  # Unix, so the mode above is honoured
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
elif command -v zip >/dev/null; then
  chmod 0755 "$out/bootstrap"
  touch -t 198001010000 "$out/bootstrap"
  (cd "$out" && zip -q -X -9 "../$(basename "$zip")" bootstrap)
else
  echo "lambda: need python3 or zip to package $out/bootstrap" >&2
  exit 1
fi

size() { wc -c <"$1" | tr -d ' '; }
printf 'lambda: %s (%s bytes), bootstrap %s bytes (linux/arm64, provided.al2023)\n' \
  "$zip" "$(size "$zip")" "$(size "$out/bootstrap")"
