package schema

import _ "embed"

// OpenAPI is the OpenAPI 3.1 description of the issuer's HTTP API. Its
// schemas refer to the document schemas by their $id
// (https://tenure.dev/schema/contract.schema.json), so a tool that loads
// both resolves them without network access.
//
//go:embed openapi.json
var OpenAPI []byte
