"""Randomised-trial estimators: difference in means, Lin (2013), blocked and clustered designs, CACE."""
