/**
 * A JSON Schema validator for the subset tool parameter schemas use: type
 * (a name or a list of names, "integer" included), required, properties,
 * additionalProperties (boolean or schema), enum, const, items,
 * minimum/maximum, minLength/maxLength, anyOf/oneOf and OpenAPI's nullable.
 * Anything else in a schema is ignored (annotation keywords such as
 * description and default are expected there).
 *
 * Written here rather than pulled from a library because the loop needs one
 * thing a general validator does poorly: a short error that names the exact
 * field (`path.to.field: expected integer, got string "3"`) so the model can
 * read it and fix its call. The subset is small enough to check exactly.
 */

export type JsonSchema = Record<string, unknown>;

export interface SchemaError {
  /** Dotted path of the offending value; "" is the arguments object itself. */
  path: string;
  message: string;
}

/** Validates `value` against `schema`; an empty list means valid. */
export function validate(schema: JsonSchema, value: unknown, path = ""): SchemaError[] {
  const errors: SchemaError[] = [];
  check(schema, value, path, errors);
  return errors;
}

/** One line per error, e.g. `command: required property is missing`. */
export function formatErrors(errors: SchemaError[]): string {
  return errors.map((e) => `${e.path || "(arguments)"}: ${e.message}`).join("\n");
}

function check(schema: JsonSchema, value: unknown, path: string, errors: SchemaError[]): void {
  const fail = (message: string, at = path) => errors.push({ path: at, message });

  if (value === null && schema.nullable === true) return;

  const types = typeList(schema.type);
  if (types && !types.some((t) => hasType(value, t))) {
    fail(`expected ${types.join(" or ")}, got ${describeValue(value)}`);
    return; // the remaining keywords would only repeat the type mismatch
  }

  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value))) {
    fail(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${JSON.stringify(value)}`);
  }
  if ("const" in schema && !deepEqual(schema.const, value)) {
    fail(`must be ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  }

  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum)
      fail(`must be >= ${schema.minimum}, got ${value}`);
    if (typeof schema.maximum === "number" && value > schema.maximum)
      fail(`must be <= ${schema.maximum}, got ${value}`);
  }

  if (typeof value === "string") {
    // Length in code points, as JSON Schema defines it, not UTF-16 units.
    const length = [...value].length;
    if (typeof schema.minLength === "number" && length < schema.minLength)
      fail(`must be at least ${schema.minLength} characters long`);
    if (typeof schema.maxLength === "number" && length > schema.maxLength)
      fail(`must be at most ${schema.maxLength} characters long`);
  }

  if (Array.isArray(value) && isSchema(schema.items)) {
    const items = schema.items;
    for (const [i, item] of value.entries()) check(items, item, `${path}[${i}]`, errors);
  }

  if (isObject(value)) checkObject(schema, value, path, errors);

  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf.filter(isSchema);
    const results = branches.map((b) => validate(b, value, path));
    if (!results.some((r) => r.length === 0)) {
      fail(`does not match any allowed shape: ${closest(results)}`);
    }
  }
  if (Array.isArray(schema.oneOf)) {
    const branches = schema.oneOf.filter(isSchema);
    const results = branches.map((b) => validate(b, value, path));
    const matches = results.filter((r) => r.length === 0).length;
    if (matches === 0) fail(`does not match any allowed shape: ${closest(results)}`);
    else if (matches > 1) fail(`matches ${matches} shapes but must match exactly one`);
  }
}

function checkObject(schema: JsonSchema, value: Record<string, unknown>, path: string, errors: SchemaError[]): void {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  if (Array.isArray(schema.required)) {
    for (const key of schema.required) {
      if (typeof key === "string" && !(key in value)) {
        errors.push({ path: join(path, key), message: "required property is missing" });
      }
    }
  }
  for (const [key, child] of Object.entries(value)) {
    const propSchema = properties[key];
    if (isSchema(propSchema)) {
      check(propSchema, child, join(path, key), errors);
      continue;
    }
    if (schema.additionalProperties === false) {
      const known = Object.keys(properties);
      errors.push({
        path: join(path, key),
        message: `unknown property${known.length ? `; allowed: ${known.join(", ")}` : ""}`,
      });
    } else if (isSchema(schema.additionalProperties)) {
      check(schema.additionalProperties, child, join(path, key), errors);
    }
  }
}

/** The error list of the branch that came closest (fewest errors), for a readable anyOf message. */
function closest(results: SchemaError[][]): string {
  const best = results.reduce<SchemaError[] | undefined>((a, r) => (!a || r.length < a.length ? r : a), undefined);
  return best ? best.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ") : "no shapes given";
}

function typeList(t: unknown): string[] | undefined {
  if (typeof t === "string") return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === "string");
  return undefined;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return false; // an unknown type name matches nothing rather than everything
  }
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSchema(v: unknown): v is JsonSchema {
  return isObject(v);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
