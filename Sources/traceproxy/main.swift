Launcher.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: .current())
