// The three vega-util helpers Vega's expression interpreter imports (/console/vendor/vega-interpreter.js),
// from Vega's browser build, which carries vega-util and is loaded before any chart is drawn.
const { ascending, isString, DisallowedObjectProperties } = globalThis.vega;

export { ascending, DisallowedObjectProperties, isString };
