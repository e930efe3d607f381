package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tenurehq/tenure/shared/engine"
)

// loadProducts reads TENURE_PRODUCTS: product files, comma-separated, or
// directories of *.product files (read in name order), the oldest version
// of a product first. Each is checked against the product schema; a bad
// file stops the issuer, naming the file and what is wrong with it. Unset,
// the issuer licenses the example product, edge (nil).
func loadProducts(spec string, log *slog.Logger) ([]*engine.Product, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var files []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		fi, err := os.Stat(item)
		if err != nil {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, item)
			continue
		}
		found, err := filepath.Glob(filepath.Join(item, "*.product"))
		if err != nil {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %s: %w", item, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %s holds no *.product file", item)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("TENURE_PRODUCTS=%q names no product file", spec)
	}
	var out []*engine.Product
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %w", err)
		}
		if len(text) > engine.MaxDocument {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %s is %d bytes; a product file is at most %d", f, len(text), engine.MaxDocument)
		}
		p, err := engine.ParseProduct(text)
		if err != nil {
			return nil, fmt.Errorf("TENURE_PRODUCTS: %s: %w", f, err)
		}
		log.Info("product", "file", f, "id", p.ID, "sha256", p.SHA256)
		out = append(out, p)
	}
	return out, nil
}
