package main

import "github.com/spf13/cobra"

// commandList is every reef command, in help order.
var commandList = []func(*factory) *cobra.Command{
	newRunCmd,
	newServeCmd,
	newSetupCmd,
	newListCmd,
	newInspectCmd,
	newGrantCmd,
	newRevokeCmd,
	newVersionCmd,
	newNewCmd, newBuildCmd, newTestCmd,
}
