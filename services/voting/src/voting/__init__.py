"""The voting service: congresses, bodies, accreditation, motions, ballots and elections."""
