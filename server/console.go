package server

import (
	"embed"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
)

// The supervisors' console: plain HTML, CSS and JavaScript modules in
// server/console/, embedded in the binary and served as they are (no
// build step). The files are public; every figure and record the console
// shows comes from the API with a bearer token the page keeps only in a
// JavaScript variable (never in cookies, localStorage, sessionStorage or
// IndexedDB). The only thing kept in the browser is its device id
// (console/device.js: not a secret), so a reload does not register a new
// device. The page answers with Clear-Site-Data "cache"; the page that
// logging out lands on (/?out=<reason>) clears "storage" too, so a logged
// out browser keeps nothing for the origin.

//go:embed console
var consoleFiles embed.FS

// consoleTypes are the content types of the console's files.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".ico":  "image/x-icon",
}

// consoleCSP allows the console's own files and API only.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func consoleHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", consoleCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// consoleIndex handles GET /: the console's page.
func (s *Server) consoleIndex(c *fiber.Ctx) error {
	data, err := consoleFiles.ReadFile("console/index.html")
	if err != nil {
		return err
	}
	consoleHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Query("out") != "" {
		c.Set("Clear-Site-Data", `"cache", "storage"`)
	} else {
		c.Set("Clear-Site-Data", `"cache"`)
	}
	c.Set(fiber.HeaderContentType, consoleTypes[".html"])
	return c.Send(data)
}

// consoleFile handles GET /console/:file: one of the console's files.
func (s *Server) consoleFile(c *fiber.Ctx) error {
	name := c.Params("file")
	typ, ok := consoleTypes[path.Ext(name)]
	if !ok || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return model.Errorf(model.CodeNotFound, "There is no such console file.")
	}
	data, err := consoleFiles.ReadFile("console/" + name)
	if err != nil {
		return model.Errorf(model.CodeNotFound, "There is no such console file.")
	}
	consoleHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentType, typ)
	return c.Send(data)
}
