#!/usr/bin/env bash
# `make lambda`: the issuer as an AWS Lambda function for the provided.al2023
# runtime on arm64 (issuer/deploy/template.yaml deploys it). The binary must
# be called bootstrap; -tags lambda.norpc drops the RPC path only the old go1.x
# runtime used. PRODUCTS=DIR (or a file) packs the vendor's *.product files
# into the zip's products/ folder; deploy with the template's Products=products.
# The zip is reproducible: fixed timestamps, sorted entries, fixed modes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist/lambda
zip=dist/tenure-issuer-lambda.zip
mkdir -p "$out"
rm -f "$out/bootstrap" "$zip"
products=()
if [ -n "${PRODUCTS:-}" ]; then
  if [ -d "$PRODUCTS" ]; then
    while IFS= read -r f; do products+=("$f"); done < <(find "$PRODUCTS" -maxdepth 1 -name '*.product' -type f | sort)
  elif [ -f "$PRODUCTS" ]; then
    products=("$PRODUCTS")
  fi
  [ "${#products[@]}" -gt 0 ] || { echo "lambda: PRODUCTS=$PRODUCTS holds no *.product file" >&2; exit 1; }
  for f in "${products[@]}"; do
    head -n1 "$f" | grep -qx 'tenure.product/v1' || { echo "lambda: $f does not start with the line tenure.product/v1" >&2; exit 1; }
  done
fi

GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath \
  -ldflags "-s -w ${LDFLAGS:-}" -o "$out/bootstrap" ./issuer/cmd/tenure-issuer

if command -v python3 >/dev/null; then
  python3 - "$out/bootstrap" "$zip" "${products[@]}" <<'PY'
import os, sys, zipfile
src, dst, products = sys.argv[1], sys.argv[2], sys.argv[3:]
def entry(name, mode):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode is honoured
    return info
with zipfile.ZipFile(dst, "w") as z:
    with open(src, "rb") as f:
        z.writestr(entry("bootstrap", 0o100755), f.read(), compresslevel=9)  # a file Lambda may execute
    for p in products:
        with open(p, "rb") as f:
            z.writestr(entry("products/" + os.path.basename(p), 0o100644), f.read(), compresslevel=9)
PY
elif command -v zip >/dev/null; then
  chmod 0755 "$out/bootstrap"
  touch -t 198001010000 "$out/bootstrap"
  rm -rf "$out/products"
  if [ "${#products[@]}" -gt 0 ]; then
    mkdir -p "$out/products"
    cp "${products[@]}" "$out/products/"
    chmod 0644 "$out"/products/*
    touch -t 198001010000 "$out"/products/*
  fi
  (cd "$out" && zip -q -X -9 "../$(basename "$zip")" bootstrap $( [ "${#products[@]}" -gt 0 ] && ls products/* ))
else
  echo "lambda: need python3 or zip to package $out/bootstrap" >&2
  exit 1
fi

size() { wc -c <"$1" | tr -d ' '; }
printf 'lambda: %s (%s bytes), bootstrap %s bytes (linux/arm64, provided.al2023)%s\n' \
  "$zip" "$(size "$zip")" "$(size "$out/bootstrap")" "${PRODUCTS:+, ${#products[@]} product file(s) in products/}"
