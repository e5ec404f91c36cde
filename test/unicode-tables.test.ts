import { describe, expect, it } from "vitest";
import { CLASSES, rangesOf } from "../scripts/gen-unicode-tables";
import * as tables from "../src/unicode-tables";

// The component's engine has no \p{..}; the committed tables stand in for it.
// They must say exactly what this Node's ICU says, for every code point.
describe.skipIf(process.versions.unicode !== tables.UNICODE_VERSION)(
  `unicode tables (Unicode ${tables.UNICODE_VERSION}; skipped on a Node with another Unicode version)`,
  () => {
    it.each(Object.entries(CLASSES))("%s matches the regular expression it was made from", (name, pattern) => {
      expect(tables[name as keyof typeof CLASSES]).toEqual(rangesOf(pattern));
    });
  },
);
