// Compiles every schema in the directory given (schema/) with Ajv's 2020-12
// validator in strict mode, and validates the documents given as
// TYPE=FILE pairs against them. Prints one line per schema; exits 1 on the
// first schema that does not compile or document that does not validate.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [dir, ...docs] = process.argv.slice(2);
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const files = readdirSync(dir).filter((f) => f.endsWith(".schema.json")).sort();
for (const f of files) {
  ajv.addSchema(JSON.parse(readFileSync(join(dir, f), "utf8")));
}
let failed = false;
for (const f of files) {
  const id = JSON.parse(readFileSync(join(dir, f), "utf8")).$id;
  try {
    ajv.getSchema(id);
    console.log(`ok ${f}`);
  } catch (e) {
    console.log(`FAIL ${f}: ${e.message}`);
    failed = true;
  }
}
for (const pair of docs) {
  const [id, file] = pair.split("=");
  const validate = ajv.getSchema(id);
  const doc = JSON.parse(readFileSync(file, "utf8"));
  if (validate(doc)) {
    console.log(`valid ${file}`);
  } else {
    console.log(`INVALID ${file}: ${ajv.errorsText(validate.errors)}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
