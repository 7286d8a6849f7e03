"""Business rules. Services raise NogilbenchError subclasses; routers only call them."""
