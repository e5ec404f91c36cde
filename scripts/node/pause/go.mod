module wasm-pods/pause

go 1.22
