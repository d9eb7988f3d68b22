// Package parser owns reading a Dockerfile: it turns the text into stages
// of typed instructions with BuildKit's parser and instructions packages,
// keeps every instruction's source line for errors, provides word expansion
// (shell.Lex) and reads .dockerignore files.
//
// Every error it returns names the file and line as "Dockerfile:LINE".
package parser
