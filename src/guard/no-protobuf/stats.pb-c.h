/* Guard header (src/guard/README): layer rule: this layer knows nothing of the RPC messages (src/meson.build) */
#error "layer rule: this layer knows nothing of the RPC messages (src/meson.build)"
