package server

import (
	"embed"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
)

// The field app: an offline-first web app for field workers, team leads
// and visitors, served at /app/. Its TypeScript sources are in
// server/app/src and are compiled (with the SDK of clients/ts) into
// server/app/static, which is committed, so that serving it needs nothing
// but Go; .ci/run rebuilds it and fails when the committed copy is stale.
// The files are public. Unlike the console, the app keeps its user's data
// in the browser on purpose (the SDK's replica in IndexedDB, so that it
// works for days without a network), and its service worker keeps the app
// shell in Cache Storage: so the app never answers with Clear-Site-Data
// (that would erase work not yet sent); logout and the server's wipe
// signal clear the device from the page instead.

//go:embed app/static
var appFiles embed.FS

// appTypes are the content types of the app's files.
var appTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".webmanifest": "application/manifest+json",
}

// appCSP is the console's policy plus the app's manifest and service
// worker (both its own files), and images from blob: URLs: an attached
// photo is decrypted on the device and shown from an object URL (the
// console shows its photos from data: URLs instead).
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
	"font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'"

// appIndex handles GET /app/: the app's page (GET /app is sent to /app/,
// where the app's relative addresses and its service worker's scope work).
func (s *Server) appIndex(c *fiber.Ctx) error {
	if !strings.HasSuffix(c.Path(), "/") {
		return c.Redirect("/app/", fiber.StatusMovedPermanently)
	}
	data, err := appFiles.ReadFile("app/static/index.html")
	if err != nil {
		return err
	}
	consoleHeaders(c)
	c.Set("Content-Security-Policy", appCSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, appTypes[".html"])
	return c.Send(data)
}

// appFile handles GET /app/:file: one of the app's files.
func (s *Server) appFile(c *fiber.Ctx) error {
	name := c.Params("file")
	typ, ok := appTypes[path.Ext(name)]
	if !ok || name == "index.html" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return model.Errorf(model.CodeNotFound, "There is no such file of the field app.")
	}
	data, err := appFiles.ReadFile("app/static/" + name)
	if err != nil {
		return model.Errorf(model.CodeNotFound, "There is no such file of the field app.")
	}
	consoleHeaders(c)
	c.Set("Content-Security-Policy", appCSP)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentType, typ)
	return c.Send(data)
}
