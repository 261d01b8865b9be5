// Command hello is what TestBinary builds.
package main

import "fmt"

func main() { fmt.Println("hello") }
