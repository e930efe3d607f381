// Package deploy holds the AWS SAM template that runs the issuer on Lambda
// (template.yaml): the function built by `make lambda` (provided.al2023,
// arm64, the tenure-issuer binary as bootstrap) behind a Function URL and a
// throttled HTTP API in payload format 2.0, with reserved concurrency and a
// log group with a retention; a DynamoDB table with pk/sk string keys and
// point-in-time recovery (the DynamoDB store's single-table design, the same
// table `tenure-issuer create-table` makes); an Ed25519 KMS key
// (ECC_NIST_EDWARDS25519) that signs licenses, and an optional second key
// that signs too during a rotation; the admin token in a Secrets Manager
// secret the function reads on its first admin request; and alarms on 5xx
// and failed invocations. Deploy it with
//
//	make lambda
//	sam deploy --guided --template-file issuer/deploy/template.yaml
//
// The package has no code; its test reads the template as CloudFormation
// does, with several parameter values, and checks what the issuer depends
// on.
package deploy
