/** Catena's version, reported by `stats` and `--version`. Keep in step with package.json. */
export const catenaVersion = '0.1.0';
