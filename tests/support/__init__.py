"""Real local components the tests run against (exchange servers, chains); no mocks."""
