"""importTransactions, transactionImport(id), transactionImports and the report route."""
