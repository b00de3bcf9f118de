package cli

import "net/http"

// gatekeeperRoutes adds the Ratify-compatible Gatekeeper provider endpoints.
func (s *serveState) gatekeeperRoutes(mux *http.ServeMux) {}
