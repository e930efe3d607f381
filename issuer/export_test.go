package issuer

// Route is a route of the issuer's table, as the tests of package
// issuer_test see it: "METHOD PATTERN", whose token it takes as the
// package doc says it ("anyone", "contract, admin", "admin"), and whether it
// takes none.
type Route struct {
	Route  string
	Who    string
	Public bool
}

// Routes returns the API's routes in the table's order, the self-service
// page aside (the OpenAPI description does not list it).
func Routes() []Route {
	var out []Route
	for _, rt := range api {
		if rt.serve != nil {
			out = append(out, Route{rt.method + " " + rt.pattern, whoNames[rt.who], rt.who == anyone})
		}
	}
	return out
}

var whoNames = map[access]string{anyone: "anyone", contractOrAdmin: "contract, admin", adminOnly: "admin"}
