// The component's engine has no \p{..}; the committed tables stand in for it.
// They must say exactly what this Node's ICU says, for every code point. Only a
// Node of the tables' Unicode version can check that: another one skips, saying so,
// except under CI=true, where the pinned Node must match (or the tables be regenerated).
import { describe, expect, it } from "vitest";
import { CLASSES, rangesOf } from "../scripts/gen-unicode-tables";
import * as tables from "../src/unicode-tables";
import { IN_CI } from "./support/tools";

const sameUnicode = process.versions.unicode === tables.UNICODE_VERSION;
const mismatch = `this Node has Unicode ${process.versions.unicode}, the tables ${tables.UNICODE_VERSION} (npx tsx scripts/gen-unicode-tables.ts)`;

if (!sameUnicode && IN_CI) {
  it("the Unicode tables can be checked (required when CI=true)", () => {
    throw new Error(`CI=true but ${mismatch}`);
  });
}

describe.skipIf(!sameUnicode)(sameUnicode ? `unicode tables (Unicode ${tables.UNICODE_VERSION})` : `unicode tables [SKIPPED: ${mismatch}]`, () => {
  it.each(Object.entries(CLASSES))("%s matches the regular expression it was made from", (name, pattern) => {
    expect(tables[name as keyof typeof CLASSES]).toEqual(rangesOf(pattern));
  });
});
