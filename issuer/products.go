package issuer

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/tenurehq/tenure/issuer/internal/store"
	"github.com/tenurehq/tenure/shared/engine"
)

// A catalog is the product files the issuer licenses: by product id, every
// version loaded, in the order given (the first is the oldest). Several
// versions of one product stand side by side while appliances in the field
// run validators built with older ones; an LRF names its version by the
// SHA-256 of the product file it was built with.
type catalog struct {
	byID map[string][]*engine.Product
	all  []*engine.Product // in the order loaded
}

func newCatalog(products []*engine.Product) (*catalog, error) {
	k := &catalog{byID: map[string][]*engine.Product{}}
	seen := map[string]bool{}
	for _, p := range products {
		if p.SHA256 == "" {
			return nil, fmt.Errorf("issuer: product %s was not read with engine.ParseProduct (no SHA-256 of its file)", p.ID)
		}
		if seen[p.SHA256] {
			continue // the same file twice
		}
		seen[p.SHA256] = true
		k.byID[p.ID] = append(k.byID[p.ID], p)
		k.all = append(k.all, p)
	}
	if len(k.all) == 0 {
		return nil, fmt.Errorf("issuer: no product to license")
	}
	return k, nil
}

// ids lists the product ids, sorted.
func (k *catalog) ids() []string { return slices.Sorted(maps.Keys(k.byID)) }

// version is the product version an LRF for product id names: the one whose
// file has the LRF's product hash, or, for an LRF without one (a validator
// from before Revision 2), the oldest loaded. An unknown hash is a 422 that
// names both sides.
func (k *catalog) version(id string, req *engine.Request) (*engine.Product, error) {
	vs := k.byID[id]
	if len(vs) == 0 {
		return nil, problem(http.StatusUnprocessableEntity, "refused", "this issuer does not license product %q; it licenses %v", id, k.ids())
	}
	if req.ProductHash == "" {
		return vs[0], nil
	}
	for _, p := range vs {
		if p.SHA256 == req.ProductHash {
			return p, nil
		}
	}
	loaded := make([]string, len(vs))
	for i, p := range vs {
		loaded[i] = p.SHA256
	}
	return nil, problem(http.StatusUnprocessableEntity, "unknown-product-version",
		"the appliance's validator was built with a product file for %s whose SHA-256 is %s, and this issuer loaded %s (%s); "+
			"add that product file to TENURE_PRODUCTS on the issuer, or rebuild the validator with one of the issuer's files (`make build PRODUCT=FILE`; `tenure version` prints the hash it was built with)",
		id, req.ProductHash, plural(len(vs), "version"), strings.Join(loaded, ", "))
}

// checkTerms is the 422 of contract terms this issuer cannot license: an
// unknown product, or a tier or feature that no loaded version of it has.
func (k *catalog) checkTerms(in *store.Terms) error {
	vs := k.byID[in.Product]
	if len(vs) == 0 {
		return problem(http.StatusUnprocessableEntity, "refused", "this issuer does not license product %q; it licenses %v (TENURE_PRODUCTS names the product files it loads)", in.Product, k.ids())
	}
	tiers, features := map[string]bool{}, map[string]bool{}
	for _, p := range vs {
		for t := range p.Tiers {
			tiers[t] = true
		}
		for _, f := range p.Features {
			features[f] = true
		}
	}
	if !tiers[in.Tier] {
		return problem(http.StatusUnprocessableEntity, "refused", "product %s has no tier %q; use one of %v", in.Product, in.Tier, slices.Sorted(maps.Keys(tiers)))
	}
	for _, f := range in.Features {
		if !features[f] {
			return problem(http.StatusUnprocessableEntity, "refused", "feature %q is in no loaded version of product %s; its catalog is %v", f, in.Product, slices.Sorted(maps.Keys(features)))
		}
	}
	return nil
}

// licensed splits a contract's features into those version p has, which a
// license for it carries, and those it lacks, which the answer names.
func licensed(p *engine.Product, features []string) (has, lacks []string) {
	has = []string{}
	for _, f := range features {
		if p.HasFeature(f) {
			has = append(has, f)
		} else {
			lacks = append(lacks, f)
		}
	}
	return has, lacks
}

// productInfo is one entry of GET /v1/products: what is public of one
// loaded product version.
type productInfo struct {
	ID       string   `json:"id"`
	SHA256   string   `json:"sha256"`
	Features []string `json:"features"`
	Tiers    []string `json:"tiers"`
}

// getProducts is GET /v1/products: every loaded product version, with its
// file's SHA-256 (compare it with `sha256sum` of the file, or what `tenure
// version` prints), its feature catalog and its tier names. Limits are not
// public.
func (s *Server) getProducts(ctx context.Context, c *call) (*answer, *store.Entry, error) {
	out := make([]productInfo, len(s.catalog.all))
	for i, p := range s.catalog.all {
		out[i] = productInfo{ID: p.ID, SHA256: p.SHA256, Features: p.Features, Tiers: slices.Sorted(maps.Keys(p.Tiers))}
	}
	return ok(map[string]any{"products": out}), nil, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
