from qrefund.cli import main

main()
