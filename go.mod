module github.com/fieldsync/fieldsync

go 1.26

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/gowebpki/jcs v1.0.2 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
