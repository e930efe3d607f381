// Package deploy holds the AWS SAM template that runs the issuer on Lambda
// (template.yaml): the function built by `make lambda` (provided.al2023,
// arm64, the tenure-issuer binary as bootstrap) behind a Function URL and an
// HTTP API in payload format 2.0, a DynamoDB table with pk/sk string keys and
// point-in-time recovery (the DynamoDB store's single-table design, the same
// table `tenure-issuer create-table` makes), and an Ed25519 KMS key
// (ECC_NIST_EDWARDS25519) that signs licenses. Deploy it with
//
//	make lambda
//	sam deploy --guided --template-file issuer/deploy/template.yaml
//
// The package has no code; its test reads the template as CloudFormation
// does and checks what the issuer depends on.
package deploy
