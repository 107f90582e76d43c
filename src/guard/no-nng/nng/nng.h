/* Guard header (src/guard/README): layer rule: this layer knows nothing of nng (src/meson.build) */
#error "layer rule: this layer knows nothing of nng (src/meson.build)"
